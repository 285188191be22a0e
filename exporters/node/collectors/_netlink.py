"""Netlink requests for the collectors that ask the kernel over sockets.

rtnetlink (links, routes, qdiscs), generic netlink (ethtool, nl80211) and inet_diag all
speak the same framing (linux/netlink.h): a 16-byte header, then a family header, then
type-length-value attributes padded to 4 bytes. One request per socket; every reply is
bounded (datagram size, total bytes, messages, time) and every length field is checked
before it is used, so a short or lying message costs only itself.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import sys
from collections.abc import Iterator
from typing import NamedTuple

from exporters.core.deadline import current_deadline

NLMSG = struct.Struct("=IHHII")  # length, type, flags, sequence, port id
NLA = struct.Struct("=HH")  # length, type
GENLMSG = struct.Struct("=BBH")  # command, version, reserved

NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_DUMP_INTR, NLM_F_DUMP = 0x1, 0x2, 0x10, 0x300
NLA_TYPE_MASK = 0x3FFF  # without NLA_F_NESTED and NLA_F_NET_BYTEORDER
NETLINK_ROUTE, NETLINK_SOCK_DIAG, NETLINK_GENERIC = 0, 4, 16
SOL_NETLINK, NETLINK_GET_STRICT_CHK = 270, 12

# Generic netlink's controller (linux/genetlink.h).
GENL_ID_CTRL, CTRL_CMD_GETFAMILY = 0x10, 3
CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME, CTRL_ATTR_VERSION = 1, 2, 3

TIMEOUT = 5.0
MAX_DATAGRAM = 16 << 20  # a dump datagram is sized for the largest object (a link with many VFs)
MAX_REPLY_BYTES = 256 << 20
MAX_MESSAGES = 1 << 20


class Message(NamedTuple):
    type: int
    flags: int
    payload: bytes


class NetlinkError(OSError):
    """The kernel answered a request with an error (``errno`` is set)."""


def parse_messages(data: bytes) -> Iterator[tuple[int, int, int, bytes]]:
    """(type, flags, sequence, payload) of each message of one datagram."""
    offset = 0
    while offset + NLMSG.size <= len(data):
        length, kind, flags, seq, _ = NLMSG.unpack_from(data, offset)
        if length < NLMSG.size or offset + length > len(data):
            raise ValueError(f"netlink: message of {length} bytes at {offset} in a {len(data)}-byte datagram")
        yield kind, flags, seq, data[offset + NLMSG.size:offset + length]
        offset += (length + 3) & ~3


def parse_attributes(data: bytes) -> list[tuple[int, bytes]]:
    """(type, value) of each attribute; a length that overruns the data is an error."""
    attrs = []
    offset = 0
    while offset + NLA.size <= len(data):
        length, kind = NLA.unpack_from(data, offset)
        if length < NLA.size or offset + length > len(data):
            raise ValueError(f"netlink: attribute of {length} bytes at {offset} in {len(data)} bytes")
        attrs.append((kind & NLA_TYPE_MASK, data[offset + NLA.size:offset + length]))
        offset += (length + 3) & ~3
    return attrs


def attribute_map(data: bytes) -> dict[int, bytes]:
    """Attributes by type; a repeated type keeps its last value (as a decoder loop would)."""
    return dict(parse_attributes(data))


def uint(value: bytes | None, size: int) -> int | None:
    """A native-endian unsigned integer of exactly ``size`` bytes, or None."""
    if value is None or len(value) != size:
        return None
    return int.from_bytes(value, sys.byteorder)


def text(value: bytes | None) -> str | None:
    """A NUL-terminated string attribute (bytes that are not UTF-8 kept as surrogates)."""
    if value is None:
        return None
    if value.endswith(b"\0"):
        value = value[:-1]
    return value.decode("utf-8", "surrogateescape")


def encode_attribute(kind: int, value: bytes) -> bytes:
    length = NLA.size + len(value)
    return NLA.pack(length, kind) + value + b"\0" * (((length + 3) & ~3) - length)


def request(protocol: int, msg_type: int, body: bytes, *, dump: bool = True, strict: bool = False,
            timeout: float = TIMEOUT, max_bytes: int = MAX_REPLY_BYTES) -> list[Message]:
    """Send one request and return the reply's messages (a dump's are collected until
    NLMSG_DONE). An error reply raises ``NetlinkError``; a dump the kernel had to restart
    (NLM_F_DUMP_INTR, the table changed under it) is asked once more. Each wait for a datagram
    is bounded by ``timeout`` and by the scrape's deadline."""
    deadline = current_deadline()
    for attempt in range(2):
        deadline.check("waiting for a netlink reply")
        remaining = deadline.remaining()
        wait = timeout if remaining is None else max(0.001, min(timeout, remaining))
        messages, interrupted = _exchange(protocol, msg_type, body, dump, strict, wait, max_bytes)
        if not interrupted or attempt:
            return messages
    return messages  # pragma: no cover - the loop always returns


def _exchange(protocol: int, msg_type: int, body: bytes, dump: bool, strict: bool, timeout: float,
              max_bytes: int) -> tuple[list[Message], bool]:
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, protocol) as sock:
        sock.settimeout(timeout)
        if strict:
            try:
                sock.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1)
            except OSError as err:  # before 4.20: the kernel does not filter, nothing to ask
                if err.errno != errno.ENOPROTOOPT:
                    raise
        sock.bind((0, 0))
        flags = NLM_F_REQUEST | (NLM_F_DUMP if dump else 0)
        sock.send(NLMSG.pack(NLMSG.size + len(body), msg_type, flags, 1, 0) + body)
        messages: list[Message] = []
        interrupted = False
        received = 0
        peek = bytearray(NLMSG.size)
        while True:
            size = sock.recv_into(peek, len(peek), socket.MSG_PEEK | socket.MSG_TRUNC)
            if size > MAX_DATAGRAM:
                sock.recv(1)  # drop it: reading it whole is what the limit refuses
                raise ValueError(f"netlink: a {size}-byte datagram is larger than {MAX_DATAGRAM}")
            data = sock.recv(max(size, 1))
            received += len(data)
            if received > max_bytes:
                raise ValueError(f"netlink: reply larger than {max_bytes} bytes")
            for kind, msg_flags, seq, payload in parse_messages(data):
                if seq != 1:
                    continue  # not an answer to this request
                if kind == NLMSG_ERROR or kind == NLMSG_DONE:
                    code = struct.unpack_from("=i", payload)[0] if len(payload) >= 4 else 0
                    if code < 0:
                        raise NetlinkError(-code, os.strerror(-code))
                    if kind == NLMSG_DONE or not dump:
                        return messages, interrupted
                    continue
                interrupted = interrupted or bool(msg_flags & NLM_F_DUMP_INTR)
                messages.append(Message(kind, msg_flags, payload))
                if len(messages) > MAX_MESSAGES:
                    raise ValueError(f"netlink: more than {MAX_MESSAGES} messages in a reply")
                if not dump and not msg_flags & NLM_F_MULTI:
                    return messages, interrupted


def genl_family(name: str, timeout: float = TIMEOUT) -> tuple[int, int] | None:
    """A generic netlink family's id and version, or None when this kernel has no such family."""
    body = GENLMSG.pack(CTRL_CMD_GETFAMILY, 1, 0) + encode_attribute(CTRL_ATTR_FAMILY_NAME, name.encode() + b"\0")
    try:
        replies = request(NETLINK_GENERIC, GENL_ID_CTRL, body, dump=False, timeout=timeout)
    except NetlinkError as err:
        if err.errno == errno.ENOENT:
            return None
        raise
    for reply in replies:
        attrs = attribute_map(reply.payload[GENLMSG.size:])
        family = uint(attrs.get(CTRL_ATTR_FAMILY_ID), 2)
        version = uint(attrs.get(CTRL_ATTR_VERSION), 4)
        if family is not None:
            return family, version or 0
    raise ValueError(f"genetlink: no family id in the reply for {name!r}")


def genl_request(family: tuple[int, int], command: int, attributes: bytes = b"", *, dump: bool = True,
                 timeout: float = TIMEOUT) -> list[bytes]:
    """The attribute bytes of each reply to a generic netlink command."""
    family_id, version = family
    body = GENLMSG.pack(command, version, 0) + attributes
    return [m.payload[GENLMSG.size:] for m in request(NETLINK_GENERIC, family_id, body, dump=dump, timeout=timeout)
            if len(m.payload) >= GENLMSG.size]
