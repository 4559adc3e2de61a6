"""The unit's Ed25519 key and the signed results an observer can check offline.

The signed block is the same bytes on paper twice: as a QR code (base45 text in the
QR alphanumeric mode, RFC 9285, prefixed ``PCR1:``) and as base64 lines on the tape, so
an observer with a photo *or* the printed text can verify it without any network.

Envelope (CBOR array of three byte strings)::

    [payload, public_key (32 bytes, raw Ed25519), signature (64 bytes, RFC 8032)]

``payload`` is canonical CBOR of the map built by :func:`device.reports.signed_payload`;
the signature covers exactly those bytes.  The key in the envelope only says *which*
key signed: an observer compares its fingerprint with the CEC's published list of unit
keys (``--key``), since anyone can sign with a key of their own.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass
from typing import Any

import cbor2
import numpy as np

from device.errors import SignedReportError
from transport.crypto import SigningKey, VerifyKey

QR_PREFIX = "PCR1:"
B64_BEGIN = "-- SIGNED RESULTS (base64) --"
B64_END = "-- END SIGNED RESULTS --"
_B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_B45_INDEX = {c: i for i, c in enumerate(_B45)}


class UnitKey(SigningKey):
    """A unit's signing key, kept in its memory as the 32-byte RFC 8032 seed.

    The same identity key signs the paper report and the transport packets, so an
    observer's photo and the server's record name one key.
    """

    @classmethod
    def generate(cls) -> UnitKey:
        return cls(os.urandom(32))

    @classmethod
    def derived(cls, label: str) -> UnitKey:
        """A reproducible key for simulations and tests (never for a real unit)."""
        return cls(hashlib.sha256(b"pcos-lab test key\0" + label.encode()).digest())


def key_fingerprint(public: bytes) -> str:
    """How a key is named on paper and in the key registry: SHA-256 hex of the raw key."""
    return hashlib.sha256(public).hexdigest()


def verify_signature(public: bytes, message: bytes, signature: bytes) -> bool:
    try:
        return VerifyKey(public).verify(message, signature)
    except ValueError:
        return False


# Envelope ---------------------------------------------------------------------------------


def seal(key: UnitKey, payload: dict[str, Any]) -> bytes:
    body = cbor2.dumps(payload, canonical=True)
    return cbor2.dumps([body, key.public, key.sign(body)])


@dataclass(frozen=True)
class Opened:
    """A verified envelope: the payload and the fingerprint of the key that signed it."""

    payload: dict[str, Any]
    key_fingerprint: str


def open_envelope(envelope: bytes) -> Opened:
    """Decode and verify; raises SignedReportError if anything does not hold."""
    try:
        body, public, signature = cbor2.loads(envelope)
        payload = cbor2.loads(body)
    except (cbor2.CBORDecodeError, ValueError, TypeError) as exc:
        raise SignedReportError(f"not a signed results block ({exc})") from None
    if not (isinstance(public, bytes) and len(public) == 32 and isinstance(signature, bytes)):
        raise SignedReportError("not a signed results block (bad key or signature field)")
    if not verify_signature(public, body, signature):
        raise SignedReportError("the signature does not verify: the results were altered")
    if not isinstance(payload, dict):
        raise SignedReportError("the signed payload is not a results map")
    return Opened(payload, key_fingerprint(public))


# Text forms -------------------------------------------------------------------------------


def b45encode(data: bytes) -> str:
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        e, rest = divmod(n, 45 * 45)
        d, c = divmod(rest, 45)
        out += [_B45[c], _B45[d], _B45[e]]
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out += [_B45[c], _B45[d]]
    return "".join(out)


def b45decode(text: str) -> bytes:
    try:
        values = [_B45_INDEX[c] for c in text]
    except KeyError as exc:
        raise SignedReportError(f"not base45 text (character {exc.args[0]!r})") from None
    out = bytearray()
    for i in range(0, len(values), 3):
        chunk = values[i : i + 3]
        if len(chunk) == 3:
            n = chunk[0] + chunk[1] * 45 + chunk[2] * 45 * 45
            if n > 0xFFFF:
                raise SignedReportError("not base45 text (value out of range)")
            out += bytes((n >> 8, n & 0xFF))
        elif len(chunk) == 2:
            n = chunk[0] + chunk[1] * 45
            if n > 0xFF:
                raise SignedReportError("not base45 text (value out of range)")
            out.append(n)
        else:
            raise SignedReportError("not base45 text (dangling character)")
    return bytes(out)


def qr_text(envelope: bytes) -> str:
    return QR_PREFIX + b45encode(envelope)


def base64_lines(envelope: bytes, width: int) -> list[str]:
    text = base64.b64encode(envelope).decode("ascii")
    return [B64_BEGIN, *(text[i : i + width] for i in range(0, len(text), width)), B64_END]


def envelope_from_text(text: str) -> bytes:
    """The envelope in a tape's text (base64 block) or a decoded QR string."""
    text = text.strip()
    if text.startswith(QR_PREFIX):
        return b45decode(text[len(QR_PREFIX) :])
    match = re.search(re.escape(B64_BEGIN) + r"(.*?)" + re.escape(B64_END), text, re.S)
    if not match:
        raise SignedReportError("no signed results block in the text")
    try:
        return base64.b64decode("".join(match.group(1).split()), validate=True)
    except ValueError:
        raise SignedReportError("the signed results block is not valid base64") from None


# QR code ----------------------------------------------------------------------------------


def qr_modules(text: str) -> np.ndarray:
    """The QR symbol as a boolean matrix (True = dark), medium error correction."""
    import segno

    symbol = segno.make(text, mode="alphanumeric", error="m", micro=False)
    return np.array([[bool(b) for b in row] for row in symbol.matrix], dtype=bool)


def qr_image(text: str, module_px: int = 6, quiet: int = 4) -> np.ndarray:
    """The QR symbol as a uint8 grayscale image (255 = paper) with its quiet zone."""
    modules = np.pad(qr_modules(text), quiet, constant_values=False)
    image = np.where(modules, 0, 255).astype(np.uint8)
    return np.kron(image, np.ones((module_px, module_px), dtype=np.uint8))


def read_qr(image: np.ndarray) -> str:
    """The text of the first QR code found in a photo (grayscale or colour)."""
    import cv2

    # The classic detector misses about 4 % of clean symbols with random payloads (12 of
    # 300 measured); the ArUco-based one read all of those, and the two together read
    # 1,000 of 1,000.  A larger copy helps with small, soft symbols in photos.
    detectors = (cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco())
    for candidate in (image, cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)):
        for detector in detectors:
            text, _, _ = detector.detectAndDecode(candidate)
            if text:
                return text
    raise SignedReportError("no readable QR code in the image")
