"""``--web.config.file``: exporter-toolkit's TLS, basic-auth and HTTP-header configuration.

The file is validated strictly at start (unknown keys, wrong types, unreadable or
mismatched certificates, invalid bcrypt hashes, disallowed headers); any problem is a
``ConfigError`` naming the file, so the exporter refuses to start. Relative certificate
paths are resolved against the file's directory, as exporter-toolkit does.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from exporters.core.flags import ConfigError, parse_duration
from exporters.core.yamlfile import Problems, safe_load

if TYPE_CHECKING:
    import ssl

# ssl (and its libssl, ~5 MiB) is imported only when a TLS server is configured
_TLS_VERSIONS = {"TLS10": "TLSv1", "TLS11": "TLSv1_1", "TLS12": "TLSv1_2", "TLS13": "TLSv1_3"}
_CLIENT_AUTH = {
    "": "none",
    "NoClientCert": "none",
    "RequestClientCert": "request",
    "RequireAnyClientCert": "require-any",
    "RequireClientCert": "require-any",
    "VerifyClientCertIfGiven": "verify-if-given",
    "RequireAndVerifyClientCert": "require-and-verify",
}
_CURVES = {"CurveP256": "prime256v1", "CurveP384": "secp384r1", "CurveP521": "secp521r1", "X25519": "X25519"}
# exporter-toolkit allows only these response headers, some with fixed values.
_ALLOWED_HEADERS: dict[str, tuple[str, ...]] = {
    "Strict-Transport-Security": (),
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": (),
    "Content-Security-Policy": (),
}
_TOP_KEYS = {"tls_server_config", "http_server_config", "basic_auth_users", "rate_limit"}
_TLS_KEYS = {
    "cert", "key", "client_ca", "cert_file", "key_file", "client_auth_type", "client_ca_file",
    "cipher_suites", "curve_preferences", "min_version", "max_version", "prefer_server_cipher_suites",
    "client_allowed_sans",
}
_HTTP_KEYS = {"http2", "headers"}


@dataclass
class TLSSettings:
    cert_file: str = ""
    key_file: str = ""
    cert: str = ""
    key: str = ""
    client_ca_file: str = ""
    client_ca: str = ""
    client_auth_type: str = ""
    min_version: str = "TLS12"
    max_version: str = "TLS13"
    cipher_suites: list[str] = field(default_factory=list)
    curve_preferences: list[str] = field(default_factory=list)
    client_allowed_sans: list[str] | None = None

    @property
    def enabled(self) -> bool:
        return any((self.cert_file, self.cert, self.key_file, self.key, self.client_ca_file, self.client_ca,
                    self.client_auth_type))


@dataclass
class WebConfig:
    path: str = ""
    tls: TLSSettings = field(default_factory=TLSSettings)
    users: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    http2: bool = True
    rate_burst: int = 0
    rate_interval: float = 0.0


def _expect(value: Any, kind: type | tuple[type, ...], where: str, path: str) -> Any:
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ConfigError(f"{path}: {where}: expected {names}, got {type(value).__name__}")
    return value


def _check_keys(section: Mapping[str, Any], allowed: set[str], where: str, path: str) -> None:
    # exporter-toolkit reads the file with yaml.UnmarshalStrict: an unknown field stops the start
    Problems(path, strict=True).unknown_keys(section, allowed, where)


def load_web_config(path: str) -> WebConfig:
    """Read and validate a web config file; raise ``ConfigError`` with the file named."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read web config: {err.strerror or err}") from None
    raw = safe_load(path, text)
    config = WebConfig(path=path)
    if raw is None:
        return config
    _expect(raw, dict, "top level", path)
    _check_keys(raw, _TOP_KEYS, "top level", path)
    base = os.path.dirname(os.path.abspath(path))

    tls_raw = raw.get("tls_server_config") or {}
    _expect(tls_raw, dict, "tls_server_config", path)
    _check_keys(tls_raw, _TLS_KEYS, "tls_server_config", path)
    tls = config.tls
    for key in ("cert_file", "key_file", "cert", "key", "client_ca_file", "client_ca", "client_auth_type",
                "min_version", "max_version"):
        if key in tls_raw and tls_raw[key] is not None:
            setattr(tls, key, str(_expect(tls_raw[key], str, f"tls_server_config.{key}", path)))
    for key in ("cipher_suites", "curve_preferences", "client_allowed_sans"):
        if key in tls_raw and tls_raw[key] is not None:
            items = _expect(tls_raw[key], list, f"tls_server_config.{key}", path)
            setattr(tls, key, [str(_expect(i, str, f"tls_server_config.{key}", path)) for i in items])
    for key in ("cert_file", "key_file", "client_ca_file"):
        value = getattr(tls, key)
        if value and not os.path.isabs(value):
            setattr(tls, key, os.path.join(base, value))
    if tls.min_version not in _TLS_VERSIONS:
        raise ConfigError(f"{path}: tls_server_config.min_version: unknown TLS version: {tls.min_version}")
    if tls.max_version not in _TLS_VERSIONS:
        raise ConfigError(f"{path}: tls_server_config.max_version: unknown TLS version: {tls.max_version}")
    if tls.client_auth_type not in _CLIENT_AUTH:
        raise ConfigError(f"{path}: tls_server_config: invalid ClientAuth: {tls.client_auth_type}")
    for curve in tls.curve_preferences:
        if curve not in _CURVES:
            raise ConfigError(f"{path}: tls_server_config.curve_preferences: unknown curve: {curve}")

    http_raw = raw.get("http_server_config") or {}
    _expect(http_raw, dict, "http_server_config", path)
    _check_keys(http_raw, _HTTP_KEYS, "http_server_config", path)
    if "http2" in http_raw:
        config.http2 = bool(_expect(http_raw["http2"], bool, "http_server_config.http2", path))
    headers = http_raw.get("headers") or {}
    _expect(headers, dict, "http_server_config.headers", path)
    for name, value in headers.items():
        allowed = _ALLOWED_HEADERS.get(str(name))
        if allowed is None:
            raise ConfigError(f"{path}: http_server_config.headers: HTTP header {name!r} can not be configured")
        if allowed and str(value) not in allowed:
            raise ConfigError(
                f"{path}: http_server_config.headers: invalid value for {name}: expected one of "
                f"{', '.join(allowed)}, got {value!r}"
            )
        config.headers[str(name)] = str(value)

    rate = raw.get("rate_limit") or {}
    _expect(rate, dict, "rate_limit", path)
    _check_keys(rate, {"burst", "interval"}, "rate_limit", path)
    if "burst" in rate:
        config.rate_burst = int(_expect(rate["burst"], int, "rate_limit.burst", path))
    if "interval" in rate:
        interval = rate["interval"]
        try:
            config.rate_interval = parse_duration(str(interval))
        except ValueError as err:
            raise ConfigError(f"{path}: rate_limit.interval: {err}") from None
    if config.rate_interval > 0 and config.rate_burst < 1:
        raise ConfigError(f"{path}: rate_limit: burst must be at least 1 when interval is set")

    users = raw.get("basic_auth_users") or {}
    _expect(users, dict, "basic_auth_users", path)
    for user, hashed in users.items():
        _expect(hashed, str, f"basic_auth_users.{user}", path)
        if not _is_bcrypt_hash(hashed):
            raise ConfigError(f"{path}: basic_auth_users.{user}: not a bcrypt hash")
        config.users[str(user)] = hashed

    if tls.enabled:
        # Build the context once now so that a bad certificate stops the start.
        build_ssl_context(config)
    return config


def _is_bcrypt_hash(value: str) -> bool:
    if len(value) != 60 or not value.startswith(("$2a$", "$2b$", "$2y$")):
        return False
    import bcrypt

    try:
        bcrypt.checkpw(b"", value.encode())
    except ValueError:
        return False
    return True


def build_ssl_context(config: WebConfig) -> ssl.SSLContext:
    """An ``ssl.SSLContext`` for the server side of ``config.tls``; ``ConfigError`` if invalid."""
    tls = config.tls
    path = config.path
    if not (tls.cert_file or tls.cert):
        raise ConfigError(f"{path}: tls_server_config: missing one of cert or cert_file")
    if not (tls.key_file or tls.key):
        raise ConfigError(f"{path}: tls_server_config: missing one of key or key_file")
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion[_TLS_VERSIONS[tls.min_version]]
    context.maximum_version = ssl.TLSVersion[_TLS_VERSIONS[tls.max_version]]
    try:
        if tls.cert_file:
            context.load_cert_chain(tls.cert_file, tls.key_file or None)
        else:
            raise ConfigError(f"{path}: tls_server_config: inline cert/key are not supported; use cert_file/key_file")
    except (OSError, ssl.SSLError) as err:
        raise ConfigError(f"{path}: tls_server_config: failed to load certificate/key: {err}") from None
    mode = _CLIENT_AUTH[tls.client_auth_type]
    if (tls.client_ca_file or tls.client_ca) and mode == "none":
        raise ConfigError(f"{path}: tls_server_config: client CA's have been configured without a Client Auth Policy")
    try:
        if tls.client_ca_file:
            context.load_verify_locations(cafile=tls.client_ca_file)
        elif tls.client_ca:
            context.load_verify_locations(cadata=tls.client_ca)
    except (OSError, ssl.SSLError) as err:
        raise ConfigError(f"{path}: tls_server_config: failed to load client CA: {err}") from None
    if mode == "none":
        context.verify_mode = ssl.CERT_NONE
    elif mode in ("request", "verify-if-given"):
        context.verify_mode = ssl.CERT_OPTIONAL
    else:
        # Python's ssl cannot request a certificate without verifying it against a CA, so
        # RequireAnyClientCert behaves as RequireAndVerifyClientCert (documented).
        context.verify_mode = ssl.CERT_REQUIRED
    if tls.client_allowed_sans is not None and mode not in ("require-any", "require-and-verify"):
        raise ConfigError(
            f"{path}: tls_server_config: client_allowed_sans requires client_auth_type to be one of "
            "RequireAnyClientCert or RequireAndVerifyClientCert"
        )
    if tls.cipher_suites:
        try:
            context.set_ciphers(":".join(tls.cipher_suites))
        except ssl.SSLError as err:
            raise ConfigError(f"{path}: tls_server_config.cipher_suites: {err}") from None
    if tls.curve_preferences:
        try:
            context.set_ecdh_curve(_CURVES[tls.curve_preferences[0]])
        except (ValueError, ssl.SSLError) as err:
            raise ConfigError(f"{path}: tls_server_config.curve_preferences: {err}") from None
    return context


class BasicAuth:
    """Checks ``Authorization: Basic`` against bcrypt hashes as exporter-toolkit does.

    bcrypt costs tens of milliseconds per check, so the outcome of each (user, password,
    hash), success or failure, is cached, and bcrypt runs one check at a time: a flood of
    wrong passwords queues behind one lock instead of taking every CPU, and a repeated wrong
    password costs a cache lookup. Unknown users are checked against a dummy hash of the
    highest cost among the configured ones, so timing does not reveal which users exist
    (exporter-toolkit's dummy hash is cost 10 whatever the real ones cost).
    """

    def __init__(self, users: Mapping[str, str], cache_size: int = 100) -> None:
        self.users = dict(users)
        # made only when auth is on: hashing it costs as much as a check
        self._dummy = _dummy_hash(max((_bcrypt_cost(h) for h in self.users.values()), default=10)) if self.users \
            else b""
        self._cache: OrderedDict[bytes, bool] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._bcrypt_lock = threading.Lock()
        self.bcrypt_checks = 0

    @property
    def enabled(self) -> bool:
        return bool(self.users)

    def _cached(self, key: bytes) -> bool | None:
        with self._lock:
            outcome = self._cache.get(key)
            if outcome is not None:
                self._cache.move_to_end(key)
            return outcome

    def check(self, user: str, password: str) -> bool:
        hashed = self.users.get(user)
        known = hashed is not None
        stored = hashed.encode() if hashed is not None else self._dummy
        import hashlib  # with basic auth only: it loads libcrypto (~3.7 MiB)

        key = hashlib.sha256(b"\0".join((user.encode(), password.encode(), stored))).digest()
        outcome = self._cached(key)
        if outcome is not None:
            return outcome
        import bcrypt  # only with basic auth configured

        with self._bcrypt_lock:
            outcome = self._cached(key)  # the same check may have finished while this one waited
            if outcome is not None:
                return outcome
            self.bcrypt_checks += 1
            try:
                ok = bcrypt.checkpw(password.encode(), stored)
            except ValueError:
                ok = False
        outcome = ok and known
        with self._lock:
            self._cache[key] = outcome
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return outcome


def _bcrypt_cost(hashed: str) -> int:
    """The cost of a ``$2y$12$...`` hash (10 when it cannot be read)."""
    parts = hashed.split("$")
    try:
        return max(4, min(31, int(parts[2])))
    except (IndexError, ValueError):
        return 10


@lru_cache(maxsize=4)
def _dummy_hash(cost: int) -> bytes:
    import bcrypt

    return bytes(bcrypt.hashpw(b"exporters-dummy-password", bcrypt.gensalt(rounds=cost)))


class RateLimiter:
    """exporter-toolkit's ``rate_limit``: a token bucket of ``burst`` tokens, one added per ``interval``."""

    def __init__(self, burst: int, interval: float) -> None:
        self.burst = burst
        self.interval = interval
        self._tokens = float(burst)
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def allow(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._last) / self.interval)
            self._last = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False
