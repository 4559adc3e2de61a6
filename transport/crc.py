"""CRC-32 of every frame: catches line noise before any parsing or cryptography runs.

The parameters are those of IEEE 802.3 / zlib / PNG ("CRC-32/ISO-HDLC"): polynomial
0x04C11DB7 (reflected 0xEDB88320), initial value 0xFFFFFFFF, input and output reflected,
final XOR 0xFFFFFFFF; check value of b"123456789" is 0xCBF43926.  Any independent client
has this CRC in its standard library, which is why it was chosen over CRC-32C.
"""

from __future__ import annotations

import zlib

CHECK_VALUE = 0xCBF43926


def crc32(data: bytes) -> int:
    """CRC-32/ISO-HDLC of ``data`` as an unsigned 32-bit integer."""
    return zlib.crc32(data) & 0xFFFFFFFF


def append(data: bytes) -> bytes:
    """``data`` followed by its CRC-32, big-endian (the frame trailer)."""
    return data + crc32(data).to_bytes(4, "big")


def strip(data: bytes) -> bytes | None:
    """``data`` without its 4-byte trailer, or None when the trailer does not match."""
    if len(data) < 4:
        return None
    body, trailer = data[:-4], data[-4:]
    return body if crc32(body).to_bytes(4, "big") == trailer else None
