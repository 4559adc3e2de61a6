"""Deterministic CBOR (RFC 8949 §4.2.1): one value, one encoding.

Signatures and digests are computed over bytes, so both ends must agree on the bytes of
a value.  Encoding uses cbor2's canonical mode (shortest integer and float forms,
definite lengths, map keys sorted by their encoded bytes).  Decoding is strict: it
accepts an input only if re-encoding the decoded value gives the same bytes back, which
rejects trailing data, non-shortest forms, indefinite lengths, unsorted or duplicate keys
and any tag, without a second parser to keep in step with the encoder.

Values are limited to the JSON data model plus byte strings: maps with text keys, arrays,
text, byte strings, 64-bit integers, floats, booleans and null.
"""

from __future__ import annotations

import math
from typing import Any

import cbor2

MAX_DEPTH = 16
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1


class CanonicalError(ValueError):
    """Not deterministic CBOR of the allowed data model; ``truncated`` if input ran out."""

    def __init__(self, message: str, *, truncated: bool = False):
        super().__init__(message)
        self.truncated = truncated


def check(value: Any) -> None:
    """Raise :class:`CanonicalError` unless ``value`` is in the allowed data model.

    Scalars are tested inline inside each container's loop, and only containers recurse:
    a DEC's report holds over a thousand counts, and every seal and every verification
    passes each of them through here.
    """
    _check_item(value, 0)


def _check_item(item: Any, depth: int) -> None:
    kind = type(item)
    if kind is dict:
        if not all(type(key) is str for key in item):
            raise CanonicalError("map keys must be text")
        _check_children(item.values(), depth)
    elif kind is list or kind is tuple:
        _check_children(item, depth)
    else:
        _check_scalar(item, kind, depth)


def _check_children(children: Any, depth: int) -> None:
    if depth >= MAX_DEPTH:
        raise CanonicalError(f"nested deeper than {MAX_DEPTH}")
    for child in children:
        kind = type(child)
        if kind is int:
            if not _INT_MIN <= child <= _INT_MAX:
                raise CanonicalError("integer outside the 64-bit range")
        elif kind is str or kind is bytes or kind is bool or child is None:
            continue
        elif kind is dict or kind is list or kind is tuple:
            _check_item(child, depth + 1)
        else:
            _check_scalar(child, kind, depth + 1)


def _check_scalar(item: Any, kind: type, depth: int) -> None:
    """Exact types were handled by the callers; this also takes their subclasses
    (an IntEnum, a StrEnum, an OrderedDict), which encode as their base type."""
    if isinstance(item, bool) or item is None or isinstance(item, str | bytes):
        return
    if isinstance(item, int):
        if not _INT_MIN <= item <= _INT_MAX:
            raise CanonicalError("integer outside the 64-bit range")
    elif isinstance(item, float):
        if not math.isfinite(item):
            raise CanonicalError("NaN and infinities are not allowed")
    elif isinstance(item, dict):
        _check_item(dict(item), depth)
    elif isinstance(item, list | tuple):
        _check_children(item, depth)
    else:
        raise CanonicalError(f"type {kind.__name__} is not allowed")


def dumps(value: Any) -> bytes:
    """Deterministic encoding of ``value`` (checked against the data model first)."""
    check(value)
    return cbor2.dumps(value, canonical=True)


def loads(data: bytes) -> Any:
    """Decode exactly one deterministic CBOR value that spans all of ``data``."""
    try:
        value = cbor2.loads(
            data,
            max_depth=MAX_DEPTH + 1,
            allow_indefinite=False,
            allow_duplicate_keys=False,
        )
    except cbor2.CBORDecodeEOF as exc:
        raise CanonicalError("CBOR ends early", truncated=True) from exc
    except Exception as exc:  # cbor2 raises assorted types on hostile input
        raise CanonicalError(f"not CBOR: {exc}") from exc
    check(value)
    try:
        again = cbor2.dumps(value, canonical=True)
    except Exception as exc:
        raise CanonicalError(f"cannot re-encode: {exc}") from exc
    if again != data:
        raise CanonicalError("not the deterministic encoding (or trailing bytes)")
    return value
