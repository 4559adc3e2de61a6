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

    Iterative, with exact-type tests first: reports of thousands of counts pass through
    here on every seal and every verification.
    """
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        kind = type(item)
        if kind is str or kind is bytes or kind is bool or item is None:
            continue
        if kind is int or (isinstance(item, int) and not isinstance(item, bool)):
            if not _INT_MIN <= item <= _INT_MAX:
                raise CanonicalError("integer outside the 64-bit range")
        elif kind is float or isinstance(item, float):
            if not math.isfinite(item):
                raise CanonicalError("NaN and infinities are not allowed")
        elif kind is dict or kind is list or isinstance(item, dict | list | tuple):
            if depth >= MAX_DEPTH:
                raise CanonicalError(f"nested deeper than {MAX_DEPTH}")
            if isinstance(item, dict):
                if not all(type(key) is str or isinstance(key, str) for key in item):
                    raise CanonicalError("map keys must be text")
                items = item.values()
            else:
                items = item
            stack.extend((child, depth + 1) for child in items)
        elif not isinstance(item, str | bytes):
            raise CanonicalError(f"type {type(item).__name__} is not allowed")


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
