"""Where libpq will really connect for a DSN: the endpoints a ``/probe`` allowlist checks.

libpq takes the address from more places than the ``host`` a caller writes: ``hostaddr``
(which wins over ``host`` for the connection itself), a list of hosts and ports, a
``service`` from a service file, the ``PGHOST``/``PGHOSTADDR``/``PGPORT``/``PGSERVICE``
environment of the exporter, and a unix socket when the host is a path, ``@abstract``, or
empty. ``endpoints`` applies the same rules and returns every address a connection attempt
may use (libpq tries them in turn), canonicalised by ``exporters.core.targets``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from exporters.core.targets import Endpoint

DEFAULT_PORT = 5432
# libpq's compiled-in socket directory (Debian, and the libpq psycopg's wheels carry)
DEFAULT_SOCKET_DIR = "/var/run/postgresql"
# read from the exporter's environment when the DSN does not set them
ENV_DEFAULTS = {"host": "PGHOST", "hostaddr": "PGHOSTADDR", "port": "PGPORT", "service": "PGSERVICE"}
SERVICE_FILE_MAX_BYTES = 1 << 20


class EndpointError(ValueError):
    """The DSN names no usable address (a bad port, an unknown service...)."""


def _service_files(env: Mapping[str, str]) -> list[str]:
    files = []
    if env.get("PGSERVICEFILE"):
        files.append(env["PGSERVICEFILE"])
    elif env.get("HOME"):
        files.append(os.path.join(env["HOME"], ".pg_service.conf"))
    for base in (env.get("PGSYSCONFDIR", ""), "/etc/postgresql-common", "/etc"):
        if base:
            files.append(os.path.join(base, "pg_service.conf"))
    return files


def service_params(name: str, env: Mapping[str, str]) -> dict[str, str]:
    """The parameters of service ``name``, from the first service file that defines it."""
    import configparser  # only for a service=... data source

    for path in _service_files(env):
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                text = handle.read(SERVICE_FILE_MAX_BYTES)
        except OSError:
            continue
        parser = configparser.ConfigParser(interpolation=None, strict=False, delimiters=("=",))
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        try:
            parser.read_string(text, path)
        except configparser.Error as err:
            raise EndpointError(f"service file {path} cannot be read: {type(err).__name__}") from None
        if parser.has_section(name):
            return {key.strip(): value.strip() for key, value in parser.items(name)}
    raise EndpointError(f"definition of service {name!r} not found")


def effective_params(params: Mapping[str, str], env: Mapping[str, str]) -> dict[str, str]:
    """``params`` completed as libpq completes them: service file, then environment."""
    out = {k: v for k, v in params.items() if v != ""}
    service = out.get("service") or env.get("PGSERVICE", "")
    if service:
        for key, value in service_params(service, env).items():
            out.setdefault(key, value)
    for key, variable in ENV_DEFAULTS.items():
        if key not in out and env.get(variable):
            out[key] = env[variable]
    return out


def _port(text: str) -> int:
    try:
        port = int(text) if text else DEFAULT_PORT
    except ValueError:
        raise EndpointError(f"invalid port {text[:20]!r}") from None
    if not 0 < port < 65536:
        raise EndpointError(f"invalid port {port}")
    return port


def endpoints(params: Mapping[str, str], env: Mapping[str, str] | None = None) -> list[Endpoint]:
    """Every address a connection with ``params`` may use, in libpq's order."""
    full = effective_params(params, os.environ if env is None else env)
    hosts = full.get("host", "").split(",")
    addrs = full.get("hostaddr", "").split(",")
    ports = full.get("port", "").split(",")
    count = max(len(hosts), len(addrs))
    if len(hosts) not in (1, count) or len(addrs) not in (1, count):
        raise EndpointError("host and hostaddr list different numbers of servers")
    if len(ports) not in (1, count):
        raise EndpointError("port lists a different number of servers than host")
    found = []
    for i in range(count):
        host = hosts[i] if len(hosts) > 1 else hosts[0]
        addr = addrs[i] if len(addrs) > 1 else addrs[0]
        port = _port(ports[i] if len(ports) > 1 else ports[0])
        host, addr = host.strip(), addr.strip()
        if addr:
            found.append(Endpoint.tcp(addr, port))  # hostaddr wins: host only names the server
        elif host.startswith(("/", "@")):
            found.append(Endpoint.unix(f"{host}/.s.PGSQL.{port}"))
        elif host:
            found.append(Endpoint.tcp(host, port))
        else:
            found.append(Endpoint.unix(f"{DEFAULT_SOCKET_DIR}/.s.PGSQL.{port}"))
    return found
