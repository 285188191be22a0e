"""Go's ``encoding/json`` decoding into a struct, for upstream's JSON fixture files.

Keys match field names case-insensitively, the last of repeated keys wins, unknown keys
and ``null`` values are ignored; a value of the wrong type or out of its integer range is
an error (Go reports it after decoding the rest; the caller fails either way). ``[]byte``
fields are base64. Files are read up to a bound.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, Literal

MAX_FILE_BYTES = 16 << 20

Kind = tuple[Literal["int", "uint"], int] | tuple[Literal["str", "bytes"], int]
Schema = dict[str, tuple[str, Kind]]
"""JSON key folded to lower case -> (Python field name, kind)."""

_SURROGATE = re.compile("[\ud800-\udfff]")


class JSONObject(list[tuple[str, Any]]):
    """A JSON object as its (key, value) pairs in file order (told apart from an array)."""


def _reject_constant(name: str) -> None:
    raise ValueError(f"invalid character in JSON: {name}")


def loads(data: bytes) -> Any:
    """A JSON document whose objects are ``JSONObject`` pairs."""
    return json.loads(data.decode("utf-8", "replace"), parse_constant=_reject_constant,
                      object_pairs_hook=JSONObject)


def read_file(path: str) -> Any:
    with open(path, "rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"{path} is larger than {MAX_FILE_BYTES} bytes")
    return loads(data)


def _value(key: str, value: object, kind: Kind) -> object:
    name, bits = kind
    if name == "str":
        if not isinstance(value, str):
            raise ValueError(f"json: cannot unmarshal {type(value).__name__} into Go string field {key}")
        return _SURROGATE.sub("\ufffd", value)  # a lone \\uD800 escape: Go decodes U+FFFD
    if name == "bytes":
        if not isinstance(value, str):
            raise ValueError(f"json: cannot unmarshal {type(value).__name__} into Go []byte field {key}")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as err:
            raise ValueError(f"json: {key}: {err}") from None
    low, high = (0, 1 << bits) if name == "uint" else (-(1 << (bits - 1)), 1 << (bits - 1))
    if type(value) is not int or not low <= value < high:
        raise ValueError(f"json: cannot unmarshal {value!r} into Go {name}{bits} field {key}")
    return value


def decode_struct(item: object, schema: Schema, what: str) -> dict[str, Any]:
    """The fields an object sets (``item`` as ``loads`` returns it)."""
    if not isinstance(item, JSONObject):
        raise ValueError(f"json: cannot unmarshal {type(item).__name__} into Go value of type {what}")
    values: dict[str, Any] = {}
    for key, value in item:
        known = schema.get(key.lower())
        if known is not None and value is not None:
            values[known[0]] = _value(key, value, known[1])
    return values


def decode_array(document: object, what: str) -> list[object]:
    """The elements of a JSON array (``null`` is an empty one)."""
    if document is None:
        return []
    if not isinstance(document, list) or isinstance(document, JSONObject):
        raise ValueError(f"json: cannot unmarshal into Go value of type []{what}")
    return document
