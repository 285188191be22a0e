"""Property-based fuzzing of every parser: only the documented exception may escape.

Node /proc and /sys parsers (every ``parse_*`` of ``exporters.node.collectors``), Redis
INFO/keyspace/commandstats/address/RESP parsers, the postgres queries YAML, DSN and
config loaders, and the web config loader. Inputs are arbitrary text, text shaped like
the real file (tokens, separators, numbers at the edges) and mutations of this
machine's real /proc files and the fixture tree. Examples per property are bounded so
the whole module stays well under a minute; CI runs are derandomized (reproducible).
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import re
import socket
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import REPO

FIXTURES = REPO / "tests" / "fixtures" / "node"
EXAMPLES = int(os.environ.get("EXPORTERS_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=bool(os.environ.get("CI")),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

pytestmark = pytest.mark.timeout(120)

# -- input strategies ----------------------------------------------------------------------

TOKENS = st.sampled_from([
    "0", "1", "-1", "18446744073709551615", "18446744073709551616", "9223372036854775808", "-9223372036854775809",
    "1e308", "1e309", "nan", "NaN", "inf", "-Inf", "0x1f", "0xZZ", "1.5", ".", "", " ", ":", "::", "=", ",", "(", ")",
    ") (", "kB", "MB", "cpu", "cpu0", "total", "some", "full", "avg10=1.00", "Name:", "db0", "keys=1", "expires=",
    "calls=3", "usec=1", "usec_per_call=0.33", "rejected_calls=0", "\t", "|", "-", "/", "\x00", "é", "\ufffd",
])
LINE = st.lists(TOKENS, max_size=12).map(" ".join)
SHAPED = st.lists(LINE, max_size=25).map("\n".join)
ANY_TEXT = st.text(max_size=400)


def _seed_files() -> list[str]:
    """Real inputs to mutate: this machine's /proc files and the fixture tree's small files."""
    seeds: list[str] = []
    for name in ("stat", "meminfo", "loadavg", "diskstats", "vmstat", "net/dev", "net/netstat", "net/snmp",
                 "net/sockstat", "net/softnet_stat", "interrupts", "pressure/cpu", "mounts", "cpuinfo",
                 "schedstat", "sys/fs/file-nr", "net/arp", "net/tcp", "net/udp", "self/stat", "mdstat"):
        try:
            seeds.append(Path("/proc", name).read_text(errors="replace")[:20000])
        except OSError:
            continue
    for path in sorted(FIXTURES.rglob("*")):
        if path.is_file() and not path.is_symlink() and path.stat().st_size < 20000:
            try:
                seeds.append(path.read_text(errors="replace"))
            except OSError:
                continue
    return seeds or ["cpu 1 2 3\n"]


SEEDS = _seed_files()


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A real file, then lines dropped, duplicated, truncated or tokens replaced."""
    lines = draw(st.sampled_from(SEEDS)).split("\n")
    for _ in range(draw(st.integers(0, 6))):
        if not lines:
            break
        index = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["drop", "dup", "cut", "token", "junk"]))
        if action == "drop":
            del lines[index]
        elif action == "dup":
            lines.insert(index, lines[index])
        elif action == "cut":
            lines[index] = lines[index][: draw(st.integers(0, max(0, len(lines[index]))))]
        elif action == "token":
            parts = lines[index].split()
            if parts:
                parts[draw(st.integers(0, len(parts) - 1))] = draw(TOKENS)
            lines[index] = " ".join(parts)
        else:
            lines.insert(index, draw(LINE))
    return "\n".join(lines)


PROC_TEXT = st.one_of(ANY_TEXT, SHAPED, mutated())

# -- node parsers ----------------------------------------------------------------------------

# parsers with extra required arguments, and how to call them
SPECIAL: dict[str, Callable[[Callable[..., Any], str], Any]] = {
    "edac.parse_count": lambda f, text: f(text, "ce_count"),
    "vmstat.parse_vmstat": lambda f, text: f(text, re.compile(r"^(oom_kill|pgpg|pswp|pg.*fault).*")),
    "zfs.parse_kstat": lambda f, text: f(text, "arcstats"),
    "zfs.parse_pool_io": lambda f, text: f(text, "io"),
    "_strconv.parse_uints": lambda f, text: f(text.split()),
    # called only for lines whose first field starts with "cpu" (parse_stat checks)
    "proc_stat.parse_cpu_line": lambda f, text: f(["cpu", *text.split()]),
    "udp_queues.parse_socket_line": lambda f, text: f(text.split()),
    "netclass.parse_iface": lambda f, text: f("eth0", _attributes(text)),
    "powersupplyclass.parse_power_supply": lambda f, text: f("BAT0", _attributes(text)),
    "netdev.parse_link_stats": lambda f, text: f(_attributes(text)),
    "infiniband.parse_counters": lambda f, text: f(_attributes(text), {"port_rcv_data": ("rcv", 4),
                                                                      "port_xmit_data": ("xmit", 1)}),
    # netlink and ioctl decoders: the text as the bytes of one message (or of a few)
    "_netlink.parse_messages": lambda f, text: list(f(_bytes(text))),
    "_rtnl.parse_stats": lambda f, text: f(_bytes(text), 8),
    "_rtnl.parse_links": lambda f, text: f([_bytes(text)]),
    "ethtool.parse_stats": lambda f, text: f(_bytes(text) * 32, _bytes(text), len(text)),
    "netclass.parse_link_modes": lambda f, text: f([_bytes(text)]),
    "network_route.parse_routes": lambda f, text: f([_bytes(text)]),
    "qdisc.parse_qdisc": lambda f, text: f(_bytes(text), {}),
    "qdisc.parse_qdiscs": lambda f, text: f([_bytes(text)], {}),
    "qdisc.parse_fixture": lambda f, text: f(_gojson_loads(text)),
    "tcpstat.parse_inet_diag": lambda f, text: f([_bytes(text)]),
    "wifi.parse_bss": lambda f, text: f([_bytes(text)]),
    "meminfo_numa.parse_numastat": lambda f, text: f(text, "0"),
    "mountstats.parse_transport": lambda f, text: f(text.split(), "1.1"),
    "perf.parse_tracepoints": lambda f, text: f(text.split()),
    "sysctl.parse_include": lambda f, text: f(text, True),
    "sysctl.parse_sysctl_values": lambda f, text: f(text, True),
}
# parsers that take no text (built from already parsed structures)
NOT_TEXT = {"netdev.parse_addresses"}
# present bugs found by this fuzzing, reported to the node collectors' owners
# Parser defects the fuzzing found and that are still open (none now); each is an xfail below.
KNOWN_BUGS: dict[str, str] = {}
# a netlink error reply is the kernel's answer, reported as OSError(errno) like a failed syscall
# wifi: "this interface has no BSS / no station information" is upstream's os.ErrNotExist
ALSO_ALLOWED: dict[str, tuple[type[Exception], ...]] = {
    "wifi.parse_bss": (LookupError,), "wifi.parse_station": (LookupError,),
}
# parsers of a flag value rather than of a host file: a bad value is a configuration error
CONFIG_PARSERS = {"ipvs.parse_backend_labels", "perf.parse_cpus", "perf.parse_tracepoints"}


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _gojson_loads(text: str) -> object:
    from exporters.node.collectors._gojson import loads

    return loads(_bytes(text))


def _attributes(text: str) -> dict[str, str]:
    """Sysfs attribute files from ``name=value`` lines (also arbitrary junk)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        name, _, value = line.partition("=")
        out[name.strip() or "x"] = value
    for name in ("operstate", "carrier", "mtu", "speed", "type", "capacity", "status", "online", "port_rcv_data",
                 "port_xmit_data", "rx_bytes", "address"):
        out.setdefault(name, text[:20])
    return out


def node_parsers() -> list[tuple[str, Callable[..., Any]]]:
    import exporters.node.collectors as pkg

    found: list[tuple[str, Callable[..., Any]]] = []
    for info in pkgutil.iter_modules(pkg.__path__):
        module = importlib.import_module(f"{pkg.__name__}.{info.name}")
        for name, func in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("parse") and func.__module__ == module.__name__:
                key = f"{info.name}.{name}"
                if key not in NOT_TEXT:
                    found.append((key, func))
    return sorted(found)


NODE_PARSERS = node_parsers()


# netlink message fragments: headers with plausible and absurd lengths, NLMSG_DONE/ERROR, attributes
NETLINK_PIECES = [
    struct.pack("<IHHII", 16, 3, 2, 1, 0),  # NLMSG_DONE
    struct.pack("<IHHII", 36, 2, 0, 1, 0) + b"\0" * 20,  # NLMSG_ERROR
    struct.pack("<IHHII", 16, 2, 0, 1, 0),  # NLMSG_ERROR without its error code
    struct.pack("<IHHII", 48, 16, 2, 1, 0) + b"\0" * 16 + struct.pack("<HH", 8, 3) + b"eth0",  # RTM_NEWLINK
    struct.pack("<IHHII", 0xFFFFFFFF, 16, 0, 0, 0), struct.pack("<IHHII", 4, 16, 0, 0, 0),
    struct.pack("<HH", 4, 23), struct.pack("<HH", 0, 23), struct.pack("<HH", 200, 23) + b"\1" * 16,
    b"\0" * 16, b"\xff" * 7,
]


def _takes_bytes(func: Callable[..., Any]) -> bool:
    first = next(iter(inspect.signature(func).parameters.values()))
    return first.annotation in (bytes, "bytes")
NODE_CASES = [pytest.param(key, func, id=key, marks=[pytest.mark.xfail(strict=False, reason=KNOWN_BUGS[key])]
                           if key in KNOWN_BUGS else []) for key, func in NODE_PARSERS]


def test_every_node_parser_is_fuzzed() -> None:
    """New parse_* functions are picked up; ones needing arguments must be listed in SPECIAL."""
    assert len(NODE_PARSERS) >= 40
    for key, func in NODE_PARSERS:
        required = [p for p in inspect.signature(func).parameters.values() if p.default is inspect.Parameter.empty]
        if len(required) != 1 or key in SPECIAL:
            assert key in SPECIAL, f"{key} needs arguments: add it to SPECIAL"


@pytest.mark.parametrize(("key", "func"), NODE_CASES)
def test_node_parser_raises_only_value_error(key: str, func: Callable[..., Any]) -> None:
    from exporters.core.flags import ConfigError

    call: Callable[[Callable[..., Any], str], Any] = SPECIAL.get(key, lambda f, text: f(text))
    strategy: st.SearchStrategy[str] = PROC_TEXT
    if _takes_bytes(func) and key not in SPECIAL:
        # binary input (netlink messages): arbitrary bytes, carried as surrogate-escaped text
        call = lambda f, text: f(text.encode("utf-8", "surrogateescape"))  # noqa: E731
        strategy = st.one_of(st.binary(max_size=600), st.lists(st.sampled_from(NETLINK_PIECES), max_size=12)
                             .map(b"".join)).map(lambda b: b.decode("utf-8", "surrogateescape"))
    allowed: tuple[type[Exception], ...] = (ConfigError,) if key in CONFIG_PARSERS else (ValueError,)
    allowed += ALSO_ALLOWED.get(key, ())

    @FUZZ
    @given(strategy)
    def check(text: str) -> None:
        try:
            call(func, text)
        except allowed:
            pass  # the documented "malformed input" of every parser (TextParseError is a ValueError)

    check()


# -- redis parsers ---------------------------------------------------------------------------

INFO_KEYS = st.sampled_from(["db0", "db15", "cmdstat_get", "cmdstat_", "cmdstat_config|get",
                             "latency_percentiles_usec_get", "errorstat_ERR", "slave0", "master0", "used_memory",
                             "role", "x"])
INFO_VALUES = st.one_of(
    st.lists(st.tuples(st.sampled_from(["keys", "expires", "avg_ttl", "subexpiry", "calls", "usec", "usec_per_call",
                                         "rejected_calls", "failed_calls", "p50", "p99", "p99.9", "count", "ip",
                                         "port", "state", "offset", "lag", "name", "status", "address", "slaves",
                                         "sentinels"]), TOKENS)
             .map(lambda kv: f"{kv[0]}={kv[1]}"), max_size=8).map(",".join),
    ANY_TEXT,
)


def _redis_info_text() -> st.SearchStrategy[str]:
    line = st.one_of(st.tuples(INFO_KEYS, INFO_VALUES).map(lambda kv: f"{kv[0]}:{kv[1]}"),
                     st.just("# Keyspace"), st.just("# Commandstats"), LINE)
    return st.one_of(st.lists(line, max_size=30).map("\r\n".join), ANY_TEXT)


@FUZZ
@given(_redis_info_text())
def test_redis_info_and_cluster_info(text: str) -> None:
    from exporters.redis import info

    for parse in (info.parse_info, info.parse_cluster_info):
        try:
            parse(text)
        except ValueError:
            pass
    for raw in text.splitlines():
        try:
            info.parse_number(raw)
            info.parse_value(raw)
        except ValueError:
            pass


@FUZZ
@given(INFO_KEYS, INFO_VALUES)
def test_redis_section_line_parsers(key: str, value: str) -> None:
    """keyspace, commandstats, latencystats, errorstats, slaves, sentinel masters: None or ValueError."""
    from exporters.redis import info

    for parse in (info.parse_keyspace, info.parse_commandstat, info.parse_latencystat, info.parse_errorstat,
                  info.parse_slave, info.parse_sentinel_master):
        try:
            parse(key, value)
        except ValueError:
            pass


@FUZZ
@given(st.one_of(ANY_TEXT, st.lists(st.one_of(TOKENS, st.sampled_from(["db1=a*", "db=x", "a=b=c", "%zz", "%41"])),
                                     max_size=6).map(",".join)))
def test_redis_key_arguments_and_addresses(text: str) -> None:
    from exporters.redis import keys, resp

    try:
        keys.parse_key_arg(text)
    except ValueError:
        pass
    try:
        resp.parse_address(text)
    except ValueError as err:
        assert "secret" not in str(err) or "secret" not in text.split("@")[0]
    try:
        resp.parse_address(f"redis://user:secret@{text}")
    except ValueError as err:
        assert "secret" not in str(err), "an address error must not quote the password"


@FUZZ
@given(st.one_of(ANY_TEXT, st.lists(st.sampled_from([
    "id=1", "addr=127.0.0.1:5", "laddr=", "fd=8", "name=", "age=3", "idle=0", "flags=N", "db=0", "cmd=client|list",
    "user=default", "resp=2", "tot-mem=1", "x", "=", "age=abc", "addr=[::1]:6379"]), max_size=20).map(" ".join)))
def test_redis_client_list_line(line: str) -> None:
    from exporters.redis import replies

    try:
        replies.parse_client_line(line, 1_700_000_000)
    except ValueError:
        pass


REPLY_TREES = st.recursive(
    st.one_of(st.binary(max_size=12), st.sampled_from([b"calls", b"histogram_usec", b"get", b"command"]),
              st.integers(-2**63, 2**63), st.none()),
    lambda children: st.lists(children, max_size=6),
    max_leaves=40,
)


@FUZZ
@given(REPLY_TREES)
def test_redis_reply_parsers_never_raise(reply: Any) -> None:
    """LATENCY LATEST/HISTOGRAM and SLOWLOG replies: malformed entries are skipped, never raised."""
    from exporters.redis import replies

    replies.reply_map(reply)
    replies.parse_latency_latest(reply)
    replies.parse_latency_histogram(reply)
    replies.parse_slowlog_last(reply)


@FUZZ
@given(st.one_of(ANY_TEXT, st.lists(st.sampled_from(['"', "'", ",", "a*", "%d", " ", "\n", "\x00"]),
                                     max_size=10).map("".join)))
def test_redis_key_groups_flag(text: str) -> None:
    from exporters.redis.key_groups import parse_key_groups

    try:
        parse_key_groups(text)
    except ValueError:
        pass


RESP_PIECES = st.sampled_from([b"+OK\r\n", b"-ERR x\r\n", b":1\r\n", b":x\r\n", b"$3\r\nabc\r\n", b"$-1\r\n",
                               b"$9\r\nab\r\n", b"$x\r\n", b"*2\r\n", b"*-1\r\n", b"*x\r\n", b"*1\r\n", b"\r\n",
                               b"?\r\n", b"%1\r\n",
                               b"$99999999999\r\n", b"\xff\xfe"])
RESP_BYTES = st.one_of(st.lists(RESP_PIECES, max_size=30).map(b"".join), st.binary(max_size=200),
                       st.integers(1, 5000).map(lambda n: b"*1\r\n" * n + b":1\r\n"))


@FUZZ
@given(RESP_BYTES)
@example(b"%1\r\n*2\r\n:1\r\n:2\r\n:3\r\n")  # a map keyed by an array: unhashable in hiredis
def test_resp_reader_raises_only_connection_or_reply_errors(data: bytes) -> None:
    """Whatever a server (or something posing as one) sends, only the documented errors escape."""
    _resp_exchange(data)


# -- postgres loaders ------------------------------------------------------------------------

QUERY_WORDS = st.sampled_from(["query", "metrics", "usage", "description", "master", "cache_seconds", "runonserver",
                               "metric_mapping", "GAUGE", "COUNTER", "LABEL", "HISTOGRAM", "MAPPEDMETRIC", "DISCARD",
                               "DURATION", "pg_x", "value", "value_bucket", "value_sum", "value_count", "server",
                               ">=10.0.0", "<9.6 || >=15", "bad range", "SELECT 1 AS value", "", "1", "-1"])
YAML_SCALARS = st.one_of(QUERY_WORDS, st.integers(-2, 2), st.booleans(), st.none(), st.floats(allow_nan=True))
YAML_TREES = st.recursive(
    YAML_SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(QUERY_WORDS, children, max_size=5)),
    max_leaves=25,
)
YAML_TEXT = st.one_of(YAML_TREES.map(lambda tree: yaml.safe_dump(tree, default_flow_style=False)), ANY_TEXT,
                      st.sampled_from([
                          "pg_x:\n  query: SELECT 1 AS value\n  metrics:\n    - value:\n        usage: GAUGE\n"
                          "        description: d\n",
                          "a: &a [*a]\n", "a: !!python/object:os.system x\n", "? [a]\n: b\n", "a: {b: [c, {d: e}]}\n",
                          "\ufeffa: b\n", "a:\n\t- b\n", "- - - -\n", "a: b\na: c\n", "a: {<<: 5}\n", "\x1f"]))


@FUZZ
@given(YAML_TEXT)
def test_queries_yaml_never_raises_and_locates_every_problem(text: str) -> None:
    from exporters.postgres.queries import parse_queries

    _, problems = parse_queries(text, "queries.yaml", reserved={"pg_up": "the exporter itself"},
                                shared={"pg_stat_database_xact_commit": "a collector"},
                                overridable={"pg_stat_database"})
    for problem in problems:
        assert problem.where.startswith("queries.yaml") and "Traceback" not in problem.message


@FUZZ
@given(YAML_TEXT)
def test_postgres_config_raises_only_config_error(text: str) -> None:
    from exporters.core.flags import ConfigError
    from exporters.postgres.config import parse_config

    try:
        parse_config(text, "postgres_exporter.yml")
    except ConfigError:
        pass


@FUZZ
@given(st.one_of(ANY_TEXT, st.lists(st.sampled_from([
    "host=", "port=5432", "user=u", "password=secret", "dbname=d", "sslmode=disable", "postgresql://", "u:secret@",
    "h:1/db", "?sslmode=x", "%zz", "'", "\\", "=", " "]), max_size=8).map("".join)))
def test_dsn_parse_raises_only_config_error_and_never_quotes_the_password(text: str) -> None:
    from exporters.core.flags import ConfigError
    from exporters.postgres.dsn import Dsn

    try:
        dsn = Dsn.parse(text)
    except ConfigError as err:
        assert "secret" not in str(err)
        return
    if dsn.password == "secret" and sum("secret" in value for value in dsn.params.values()) == 1:
        assert "secret" not in dsn.display()
        assert "secret" not in repr(dsn)


@FUZZ
@given(st.one_of(ANY_TEXT, st.lists(st.sampled_from(["PostgreSQL", "9.6.24", "15.4", "10", "16beta1", "on", "x86",
                                                      " ", ".", "1.2.3.4", ">=", "<", "||", "&&", ">=9.6.0 <15"]),
                                     max_size=6).map(" ".join)))
def test_postgres_version_parsers(text: str) -> None:
    from exporters.postgres.versions import VersionRangeError, parse_range, parse_version_string

    parse_version_string(text)  # None when it is not a version string, never an exception
    try:
        parse_range(text)
    except VersionRangeError:
        pass


@FUZZ
@given(TOKENS, st.one_of(TOKENS, ANY_TEXT),
       st.sampled_from(["", "ms", "s", "min", "kB", "8kB", "MB", "16MB", "B", "x"]),
       st.sampled_from(["integer", "real", "bool", "enum", "string", "x"]))
def test_postgres_setting_parser(name: str, setting: str, unit: str, vartype: str) -> None:
    from exporters.postgres.settings import parse_setting

    try:
        parse_setting(name or "x", setting, unit, vartype)
    except ValueError:
        pass


# -- web config ------------------------------------------------------------------------------

WEB_WORDS = st.sampled_from(["tls_server_config", "http_server_config", "basic_auth_users", "cert_file", "key_file",
                             "client_auth_type", "client_ca_file", "min_version", "max_version", "cipher_suites",
                             "curve_preferences", "client_allowed_sans", "prefer_server_cipher_suites", "headers",
                             "http2", "RequireAndVerifyClientCert", "TLS12", "TLS13", "TLS10", "X25519", "prom",
                             "X-Frame-Options", "deny", "Strict-Transport-Security", "/nonexistent", "",
                             "$2b$10$" + "a" * 53, "cert", "key"])
WEB_TREES = st.recursive(
    st.one_of(WEB_WORDS, st.integers(-1, 2), st.booleans(), st.none()),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(WEB_WORDS, children, max_size=4)),
    max_leaves=20,
)
WEB_TEXT = st.one_of(WEB_TREES.map(lambda tree: yaml.safe_dump(tree)), ANY_TEXT, st.binary(max_size=100).map(
    lambda b: b.decode("latin-1")))


@FUZZ
@given(WEB_TEXT)
def test_web_config_loader_raises_only_config_error(text: str) -> None:
    from exporters.core.flags import ConfigError
    from exporters.core.webconfig import load_web_config

    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False, encoding="utf-8",
                                     errors="surrogateescape") as handle:
        handle.write(text)
        path = handle.name
    try:
        load_web_config(path)
    except ConfigError:
        pass
    finally:
        os.unlink(path)


def _resp_exchange(data: bytes) -> None:
    from exporters.redis import resp

    ours, theirs = socket.socketpair()
    try:
        theirs.sendall(data)
        theirs.shutdown(socket.SHUT_WR)
        conn = resp.Connection(ours, resp.parse_address("redis://127.0.0.1:6379"), 2.0, None)
        try:
            conn.command("PING")
        except (resp.RedisConnectionError, resp.ReplyError):
            pass
    finally:
        ours.close()
        theirs.close()


@pytest.mark.parametrize("data", [b"*x\r\n", b"$x\r\n", b":x\r\n"])
def test_resp_malformed_length(data: bytes) -> None:
    """Found by the fuzzing: a non-numeric length once escaped as ValueError from int()."""
    _resp_exchange(data)


def test_resp_deeply_nested_arrays() -> None:
    """Found by the fuzzing: 3,000 nested arrays once overflowed the recursive reader."""
    _resp_exchange(b"*1\r\n" * 3000 + b":1\r\n")


def test_resp_well_formed_replies_pass() -> None:
    """The exchange helper itself works: valid replies raise nothing."""
    for data in (b"+PONG\r\n", b"*2\r\n$1\r\na\r\n:5\r\n", b"-ERR no\r\n", b"$-1\r\n"):
        _resp_exchange(data)


def test_textfile_line_of_unit_separator() -> None:
    """The example the fuzzing found, kept so that every run checks it."""
    from exporters.node.collectors.textfile import parse_text_format

    try:
        parse_text_format("\x1f")
    except ValueError:
        pass


def test_infiniband_rate_overflow() -> None:
    from exporters.node.collectors.infiniband import parse_rate

    try:
        parse_rate("1E100 Gb/sec (4X EDR)")
    except ValueError:
        pass


def test_netlink_short_error_message() -> None:
    from exporters.node.collectors._netlink import parse_messages

    assert list(parse_messages(struct.pack("<IHHII", 16, 2, 0, 1, 0))) == [(2, 0, 1, b"")]
