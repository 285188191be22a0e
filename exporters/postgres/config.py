"""``--config.file`` (postgres_exporter.yml): auth modules for ``/probe``.

::

    auth_modules:
      foo:
        type: userpass
        userpass:
          username: monitor
          password: secret
        options:          # libpq parameters added to the target's DSN
          sslmode: disable

Unknown keys are refused (upstream decodes with KnownFields). A missing file is only a
warning, as upstream: every probed target then needs its own credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from exporters.core.flags import ConfigError
from exporters.core.yamlfile import Problems, safe_load
from exporters.postgres.dsn import Dsn


@dataclass(frozen=True)
class AuthModule:
    type: str = ""
    username: str = ""
    password: str = field(default="", repr=False)
    options: Mapping[str, str] = field(default_factory=dict)

    def configure(self, target: str) -> Dsn:
        """The DSN for ``target`` with this module's credentials and options applied."""
        dsn = Dsn.parse(target, "probe target")
        changes: dict[str, str] = {}
        if self.type == "userpass":
            if self.username:
                changes["user"] = self.username
            if self.password:
                changes["password"] = self.password
        changes.update(self.options)
        return dsn.with_params(**changes)


@dataclass(frozen=True)
class ExporterConfig:
    auth_modules: Mapping[str, AuthModule] = field(default_factory=dict)


def _check_keys(path: str, what: str, data: Mapping[str, Any], allowed: set[str]) -> None:
    # upstream decodes with KnownFields: an unknown key is refused
    Problems(path, strict=True).unknown_keys(data, allowed, what)


def _mapping(where: str, value: Any) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a mapping")
    return value


def parse_config(text: str, path: str) -> ExporterConfig:
    root = _mapping(path, safe_load(path, text))  # PyYAML is imported only with a config file
    _check_keys(path, "", root, {"auth_modules"})
    modules: dict[str, AuthModule] = {}
    for name, body in _mapping(f"{path}: auth_modules", root.get("auth_modules")).items():
        where = f"{path}: auth_modules.{name}"
        spec = _mapping(where, body)
        _check_keys(path, f"auth_modules.{name}", spec, {"type", "userpass", "options"})
        kind = spec.get("type", "")
        if kind not in ("", "userpass"):
            raise ConfigError(f"{where}: unknown type {kind!r} (only userpass)")
        userpass = _mapping(f"{where}.userpass", spec.get("userpass"))
        _check_keys(path, f"auth_modules.{name}.userpass", userpass, {"username", "password"})
        options = _mapping(f"{where}.options", spec.get("options"))
        modules[str(name)] = AuthModule(
            str(kind),
            str(userpass.get("username") or ""),
            str(userpass.get("password") or ""),
            {str(k): str(v) for k, v in options.items()},
        )
    return ExporterConfig(modules)


def load_config(path: str) -> ExporterConfig:
    """Read the file; ``FileNotFoundError`` is left to the caller (a warning upstream)."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    return parse_config(text, path)
