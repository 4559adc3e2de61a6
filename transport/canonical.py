"""Deterministic CBOR (RFC 8949 §4.2.1): one value, one encoding.

Signatures and digests are computed over bytes, so both ends must agree on the bytes of
a value.  Encoding uses cbor2's canonical mode (shortest integer and float forms,
definite lengths, map keys sorted by their encoded bytes).  Decoding is strict: the
reference accepts an input only if re-encoding the decoded value gives the same bytes
back, which rejects trailing data, non-shortest forms, indefinite lengths, unsorted or
duplicate keys and any tag, with no parser of our own to keep in step with the encoder.

The server decodes every packet it receives three times over (the packet, its header, its
payload), so :func:`loads` first asks a one-pass scan in C (``transport/_cbor_check.c``,
a parser of our own after all) whether the bytes are deterministic CBOR of the data
model, and then lets cbor2 decode them once, plainly: about 170 µs less of a line
worker's CPU per packet.  The reference path below stays: it decides when the scan is
not built, and it names the defect of anything the scan refuses.  The tests hold the
two to the same decisions.

cbor2's canonical mode costs about four times its plain mode, and the reference path
re-encodes what it decodes.  The two modes differ only in float widths and map key order:
integers, lengths and strings are always shortest and definite.  So a value without
floats whose maps already hold their keys in deterministic order (every decoded value
that was deterministic CBOR) is re-encoded in plain mode, which then gives exactly the
canonical bytes; anything else takes the canonical mode as before.  The tests compare
this decision with the canonical-only one on random and mutated inputs.

Values are limited to the JSON data model plus byte strings: maps with text keys, arrays,
text, byte strings, 64-bit integers, floats, booleans and null.
"""

from __future__ import annotations

import math
from typing import Any

import cbor2

try:  # the same decisions as loads_checked, in C (optional at install: see setup.py)
    from transport._cbor_check import deterministic as _deterministic
except ImportError:  # pragma: no cover - built without a C compiler
    _deterministic = None

MAX_DEPTH = 16
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1
_PLAIN_SCALARS = frozenset({int, str, bytes, bool, type(None)})
_TEXT = frozenset({str})


class CanonicalError(ValueError):
    """Not deterministic CBOR of the allowed data model; ``truncated`` if input ran out."""

    def __init__(self, message: str, *, truncated: bool = False):
        super().__init__(message)
        self.truncated = truncated


def check(value: Any) -> None:
    """Raise :class:`CanonicalError` unless ``value`` is in the allowed data model.

    A container of scalars only is checked with C-level passes (the types as a set, the
    integers' minimum and maximum); otherwise scalars are tested inline inside each
    container's loop, and only containers recurse: a DEC's report holds over a thousand
    counts, and every seal and every verification passes each of them through here.
    """
    _check_item(value, 0)


def _check_item(item: Any, depth: int) -> bool:
    """Check ``item``; True when cbor2's plain encoding of it is already deterministic."""
    kind = type(item)
    if kind is dict:
        return _check_map(item, depth)
    if kind is list:
        return _check_children(item, depth)
    if kind is tuple:
        _check_children(item, depth)
        return False
    _check_scalar(item, kind, depth)
    return kind in _PLAIN_SCALARS


def _check_map(mapping: dict[Any, Any], depth: int) -> bool:
    """Maps are the most common containers (a report's counts), so a container's loop
    calls this directly rather than through :func:`_check_item`'s dispatch."""
    keys = [*mapping]
    if not set(map(type, keys)) <= _TEXT:
        raise CanonicalError("map keys must be text")
    return _check_children(mapping.values(), depth) and _keys_in_order(keys)


def _check_children(children: Any, depth: int) -> bool:
    if depth >= MAX_DEPTH:
        raise CanonicalError(f"nested deeper than {MAX_DEPTH}")
    kinds = set(map(type, children))
    if kinds <= _PLAIN_SCALARS:  # a report's many counts: checked in C, not one by one
        if int in kinds:
            ints = children if len(kinds) == 1 else [c for c in children if type(c) is int]
            if not _in_range(ints):
                raise CanonicalError("integer outside the 64-bit range")
        return True
    plain = True
    for child in children:
        kind = type(child)
        if kind is dict:
            plain = _check_map(child, depth + 1) and plain
        elif kind is int:
            if not _INT_MIN <= child <= _INT_MAX:
                raise CanonicalError("integer outside the 64-bit range")
        elif kind is str or kind is bytes or kind is bool or child is None:
            continue
        elif kind is list or kind is tuple:
            plain = _check_item(child, depth + 1) and plain
        else:
            _check_scalar(child, kind, depth + 1)
            plain = False
    return plain


def _in_range(ints: Any) -> bool:
    """Whether every integer of ``ints`` fits in 64 bits.  The sum of their absolute
    values bounds each of them, and one pass for it costs less than min and max (two
    passes, each through the slower argument parsing of those builtins)."""
    return sum(map(abs, ints)) <= -_INT_MIN or (min(ints) >= _INT_MIN and max(ints) <= _INT_MAX)


def _keys_in_order(keys: list[str]) -> bool:
    """Whether the keys already stand in RFC 8949 §4.2.1 order: for text keys, shorter
    UTF-8 first, then bytewise (UTF-8 keeps code point order, so comparing the strings
    compares their bytes).  Both sorts run in C; for ASCII keys the string length is the
    UTF-8 length, and the second, stable sort by length keeps the first one's order
    within each length."""
    if len(keys) < 2:
        return True
    if "".join(keys).isascii():
        return keys == sorted(sorted(keys), key=len)
    return keys == sorted(keys, key=_utf8_order)


def _utf8_order(key: str) -> tuple[int, str]:
    return len(key.encode("utf-8", "surrogatepass")), key


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
    return _encode(value, _check_item(value, 0))


def _encode(value: Any, plain: bool) -> bytes:
    """``plain`` (from the check) says that plain mode already gives the canonical bytes."""
    return cbor2.dumps(value) if plain else cbor2.dumps(value, canonical=True)


def loads(data: bytes) -> Any:
    """Decode exactly one deterministic CBOR value that spans all of ``data``.

    The C scan (``transport/_cbor_check.c``) decides in one pass, without building a
    value, and then cbor2 decodes the bytes once, plainly.  Input the scan refuses, and
    all input when the scan is not built, takes :func:`loads_checked`, which names the
    defect.  The tests hold the two to the same decisions.
    """
    return cbor2.loads(data) if _scanned(data) else loads_checked(data)


def check_encoding(data: bytes) -> None:
    """Raise :class:`CanonicalError` exactly when :func:`loads` would, without building
    the value when the C scan can decide: for a caller that only passes the bytes on (a
    line worker hands a payload's bytes to the server process, which decodes them)."""
    if not _scanned(data):
        loads_checked(data)


def _scanned(data: bytes) -> bool:
    """Whether the C scan, when built, accepts ``data`` (then :func:`loads_checked`
    would too: the tests hold them to the same decisions)."""
    return _deterministic is not None and _deterministic(data)


def loads_checked(data: bytes) -> Any:
    """The reference decoder: cbor2 decodes, :func:`check` walks the value, and the
    value must re-encode to exactly ``data``."""
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
    plain = _check_item(value, 0)
    try:
        again = _encode(value, plain)
    except Exception as exc:
        raise CanonicalError(f"cannot re-encode: {exc}") from exc
    if again != data:
        raise CanonicalError("not the deterministic encoding (or trailing bytes)")
    return value
