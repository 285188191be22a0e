"""supervisord: ``node_supervisord_*`` from ``supervisor.getAllProcessInfo`` over XML-RPC
(node_exporter v1.7.0 supervisord.go).

``--collector.supervisord.url`` (or ``SUPERVISORD_URL``) is an http(s) URL, with optional
user:password for supervisord's basic auth, or ``unix:///path/to/supervisor.sock``. The XML-RPC
body is built and parsed by the standard library's ``xmlrpc.client``; the reply is read with a
size cap and the whole call with a timeout (10 s, as upstream's XML-RPC client).
"""

from __future__ import annotations

import base64
import http.client
import logging
import socket
import xmlrpc.client
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import GaugeFamily, Metric, exact_counter
from exporters.core.options import option
from exporters.node.context import NodeContext

NAME = "supervisord"
LOGGER = logging.getLogger("exporters.node")
DEFAULT_URL = "http://localhost:9001/RPC2"
URL_ENV = "SUPERVISORD_URL"
TIMEOUT = 10.0
# A process's info is about 400 bytes of XML: room for tens of thousands of processes.
MAX_REPLY_BYTES = 16 << 20
# http://supervisord.org/subprocess.html#process-states: STARTING, RUNNING, STOPPING
RUNNING_STATES = frozenset({10, 20, 40})


@dataclass(frozen=True)
class ProcessInfo:
    name: str
    group: str
    state: int
    exit_status: int
    start: int


@dataclass(frozen=True)
class Endpoint:
    """Where the XML-RPC POST goes: a TCP host or a unix socket, the path, the auth header."""

    scheme: str
    host: str
    port: int | None
    path: str
    unix_socket: str | None = None
    authorization: str | None = None


def parse_url(url: str) -> Endpoint:
    """``--collector.supervisord.url``: http(s)://[user:pass@]host[:port]/path or unix:///socket.

    A URL upstream cannot use either starts the exporter all the same (upstream fails at
    each scrape, not at start): the error is the collector's, at scrape time.
    """
    parts = urlsplit(url)
    if parts.scheme == "unix":
        # upstream posts to http://unix/RPC2 over the socket
        return Endpoint("http", "unix", None, "/RPC2", unix_socket=parts.path)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"unsupported URL {url!r}")
    authorization = None
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        authorization = "Basic " + base64.b64encode(credentials).decode()
    port = parts.port  # ValueError when out of range
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Endpoint(parts.scheme, parts.hostname, port, path, authorization=authorization)


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("unix", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def call(endpoint: Endpoint, method: str, timeout: float = TIMEOUT, max_bytes: int = MAX_REPLY_BYTES) -> Any:
    """One XML-RPC call; a fault, an HTTP error or an oversized reply raises."""
    conn: http.client.HTTPConnection
    if endpoint.unix_socket is not None:
        conn = UnixHTTPConnection(endpoint.unix_socket, timeout)
    elif endpoint.scheme == "https":
        conn = http.client.HTTPSConnection(endpoint.host, endpoint.port, timeout=timeout)
    else:
        conn = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=timeout)
    headers = {"Content-Type": "text/xml"}
    if endpoint.authorization:
        headers["Authorization"] = endpoint.authorization
    try:
        conn.request("POST", endpoint.path, body=xmlrpc.client.dumps((), method).encode(), headers=headers)
        response = conn.getresponse()
        if response.status // 100 != 2:
            raise RuntimeError(f"HTTP status {response.status}")
        body = response.read(max_bytes + 1)
    finally:
        conn.close()
    if len(body) > max_bytes:
        raise RuntimeError(f"reply larger than {max_bytes} bytes")
    return parse_reply(body)


def parse_reply(body: bytes) -> Any:
    """The single value of an XML-RPC ``methodResponse``."""
    try:
        params, _ = xmlrpc.client.loads(body)
    except xmlrpc.client.Fault as fault:
        raise RuntimeError(f"fault {fault.faultCode}: {fault.faultString}") from None
    except Exception as err:  # noqa: BLE001 - expat and the unmarshaller raise many kinds
        raise ValueError(f"invalid XML-RPC reply: {err}") from None
    if len(params) != 1:
        raise ValueError("invalid XML-RPC reply: not one value")
    return params[0]


def _field(info: Mapping[str, Any], key: str, kind: type) -> Any:
    value = info.get(key)
    # bool is an int in Python, not in XML-RPC
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    return kind()


def parse_process_info(result: Any) -> list[ProcessInfo]:
    """``getAllProcessInfo``'s array of structs; a field of the wrong type reads as empty/0."""
    if not isinstance(result, list):
        raise ValueError("getAllProcessInfo: not an array")
    return [
        ProcessInfo(name=_field(info, "name", str), group=_field(info, "group", str), state=_field(info, "state", int),
                    exit_status=_field(info, "exitstatus", int), start=_field(info, "start", int))
        for info in result if isinstance(info, dict)
    ]


def process_families(processes: Sequence[ProcessInfo]) -> list[Metric]:
    labels = ["name", "group"]
    up = GaugeFamily("node_supervisord_up", "Process Up", labels=labels)
    state = GaugeFamily("node_supervisord_state", "Process State", labels=labels)
    exit_status = GaugeFamily("node_supervisord_exit_status", "Process Exit Status", labels=labels)
    # a counter upstream, without the _total suffix
    start_time = exact_counter("node_supervisord_start_time_seconds", "Process start time", labels=labels)
    for process in processes:
        names = [process.name, process.group]
        state.add_metric(names, process.state)
        exit_status.add_metric(names, process.exit_status)
        running = process.state in RUNNING_STATES
        up.add_metric(names, 1 if running else 0)
        if running:
            start_time.add_metric(names, process.start)
    return [up, state, exit_status, start_time]


class SupervisordCollector:
    def __init__(self, url: str, timeout: float = TIMEOUT, max_bytes: int = MAX_REPLY_BYTES) -> None:
        self.url = url
        self.timeout = timeout
        self.max_bytes = max_bytes

    def collect(self) -> Iterable[Metric]:
        try:
            result = call(parse_url(self.url), "supervisor.getAllProcessInfo", self.timeout, self.max_bytes)
        except (OSError, http.client.HTTPException, RuntimeError, ValueError) as err:
            raise RuntimeError(f"unable to call supervisord: {err}") from err
        return process_families(parse_process_info(result))


@dataclass(frozen=True)
class SupervisordOptions:
    """The supervisord collector's flags (``--collector.supervisord.*``)."""

    url: str = option("--collector.supervisord.url", DEFAULT_URL, "XML RPC endpoint.", env=URL_ENV)


def build(context: NodeContext) -> SupervisordCollector:
    LOGGER.warning("This collector is deprecated and will be removed in the next major version release.",
                   extra={"collector": NAME})
    return SupervisordCollector(context.options(SupervisordOptions).url)


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=build, enabled_by_default=False, help="Exposes service status from supervisord.",
    options=SupervisordOptions,
    source="supervisor.getAllProcessInfo over XML-RPC at --collector.supervisord.url",
)
