"""Consistent Overhead Byte Stuffing (Cheshire & Baker, 1999).

COBS removes every zero byte from a frame at a cost of at most one byte per 254, so a
single 0x00 can delimit frames on the serial line: a receiver that lost sync (noise,
carrier drop, a modem message in the stream) is back in step at the next zero.
"""

from __future__ import annotations


class CobsError(ValueError):
    """Not a COBS encoding; ``truncated`` when a block runs past the end of the input."""

    def __init__(self, message: str, *, truncated: bool = False):
        super().__init__(message)
        self.truncated = truncated


def encode(data: bytes) -> bytes:
    """COBS-encode ``data``; the result has no zero byte and no delimiter.

    Each run of non-zero bytes up to a zero (or the end) becomes a code byte
    ``len(run) + 1`` followed by the run; runs of 254 bytes are cut with code 0xFF, which
    implies no zero.  The final implied zero is dropped.
    """
    out = bytearray()
    for segment in data.split(b"\x00"):
        while len(segment) >= 254:
            out.append(0xFF)
            out += segment[:254]
            segment = segment[254:]
        out.append(len(segment) + 1)
        out += segment
    return bytes(out)


def decode(encoded: bytes) -> bytes:
    """Inverse of :func:`encode`; raises :class:`CobsError` on input it cannot produce."""
    if 0 in encoded:
        raise CobsError("zero byte inside a COBS block")
    out = bytearray()
    i, n = 0, len(encoded)
    while i < n:
        code = encoded[i]
        end = i + code
        if end > n:
            raise CobsError("COBS block runs past the end of the frame", truncated=True)
        out += encoded[i + 1 : end]
        i = end
        if code < 0xFF and i < n:
            out.append(0)
    return bytes(out)
