"""docs/protocol-vectors.json: fixed inputs -> every intermediate and final byte string.

``build(inputs)`` recomputes the whole file from its ``inputs`` section, step by step
with the primitives (as an independent client would) and checks that the high-level
functions produce the same bytes.  ``python -m tests.transport.vectors`` rewrites the file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from transport import canonical, cobs, crc, frames, intake
from transport.crypto import AgreementKey, SigningKey, aead_seal, hkdf_sha256
from transport.errors import StaleSeq
from transport.keys import ServerKeys
from transport.packet import (
    CONTENT_CONTEXT,
    KEY_INFO,
    SIGNATURE_CONTEXT,
    Header,
    MessageType,
    content_digest,
    message_id,
    seal,
    sign_reply,
)

PATH = Path(__file__).resolve().parents[2] / "docs" / "protocol-vectors.json"

INPUTS: dict[str, Any] = {
    "server_sign_seed": "1f" * 32,
    "server_kex_private": "2e" * 32,
    "unit": "PCOS-0001",
    "unit_sign_seed": "3d" * 32,
    "packet": {
        "type": 2,
        "election": "9c" * 32,
        "dec": 1001,
        "seq": 7,
        "ts": 1638118800,
        "payload": {
            "dec": 1001,
            "contests": [
                {
                    "contest": "PR",
                    "votes": {"P01": 212, "P02": 97, "AGAINST_ALL": 11},
                    "blank": 3,
                    "overvote": 2,
                    "preferences": {"P01": {"1": 150, "2": 40}},
                }
            ],
        },
        "ephemeral_private": "4c" * 32,
        "nonce": "000102030405060708090a0b",
        "chunk_size": 128,
    },
    "ack_ts": 1638118805,
    "nack": {"ts": 1638118806, "seq": 3, "reason": "seq 3 is below the highest accepted"},
    "status": {"missing": [0, 2], "count": 3},
    "cobs": ["", "00", "0000", "112200", "11223344", "1122000033", "01" * 254, "01" * 255],
    "crc32": ["313233343536373839", ""],
}


def _hex(data: bytes) -> str:
    return data.hex()


def build(inputs: dict[str, Any]) -> dict[str, Any]:
    p = inputs["packet"]
    server_sign = SigningKey(bytes.fromhex(inputs["server_sign_seed"]))
    server_kex = AgreementKey(bytes.fromhex(inputs["server_kex_private"]))
    unit_sign = SigningKey(bytes.fromhex(inputs["unit_sign_seed"]))
    eph = AgreementKey(bytes.fromhex(p["ephemeral_private"]))
    nonce = bytes.fromhex(p["nonce"])

    # The unit's packet, step by step.
    base = Header(
        MessageType(p["type"]), inputs["unit"], p["election"], p["dec"], p["seq"], p["ts"]
    )
    header = Header(**{**base.__dict__, "nonce": nonce, "epk": eph.public})
    header_bytes = header.encode()
    plaintext = canonical.dumps(p["payload"])
    shared = eph.exchange(server_kex.public)
    salt = eph.public + server_kex.public
    key = hkdf_sha256(shared, salt, KEY_INFO)
    body = aead_seal(key, nonce, header_bytes, plaintext)
    to_sign = canonical.dumps([SIGNATURE_CONTEXT, header_bytes, body])
    signature = unit_sign.sign(to_sign)
    packet = canonical.dumps([header_bytes, body, signature])
    sealed = seal(
        base, p["payload"], unit_sign, server_kex.public, ephemeral=eph.private, nonce=nonce
    )
    assert sealed == packet, "seal() differs from the step-by-step construction"
    digest = content_digest(header, plaintext)
    digest_input = canonical.dumps([CONTENT_CONTEXT, header.content_map(), p["payload"]])
    assert hashlib.sha256(digest_input).digest() == digest
    chunks = frames.split(packet, p["chunk_size"])

    # The server's ACK and a NACK.
    server = ServerKeys(sign=server_sign, kex=server_kex)
    ack_header = Header(
        MessageType.ACK, inputs["unit"], p["election"], p["dec"], p["seq"], inputs["ack_ts"]
    )
    ack = sign_reply(ack_header, {"digest": digest}, server_sign)
    n = inputs["nack"]
    error = StaleSeq(n["reason"], unit=inputs["unit"], seq=n["seq"])
    nack = intake.refuse(error, message_id(packet), server, p["election"], n["ts"])
    s = inputs["status"]
    status = frames.Status(message_id(packet), s["count"], tuple(s["missing"]))

    return {
        "about": (
            "PCOS Lab transport protocol v1 test vectors (see docs/PROTOCOL.md). All byte "
            "strings are hex. Recomputed from 'inputs' by tests/transport/test_vectors.py."
        ),
        "inputs": inputs,
        "crc32": [
            {"data": d, "crc32": f"{crc.crc32(bytes.fromhex(d)):08x}"} for d in inputs["crc32"]
        ],
        "cobs": [
            {"data": d, "encoded": _hex(cobs.encode(bytes.fromhex(d)))} for d in inputs["cobs"]
        ],
        "keys": {
            "server_sign_public": _hex(server_sign.public),
            "server_kex_public": _hex(server_kex.public),
            "unit_sign_public": _hex(unit_sign.public),
        },
        "packet": {
            "epk": _hex(eph.public),
            "header": _hex(header_bytes),
            "plaintext": _hex(plaintext),
            "x25519_shared": _hex(shared),
            "hkdf_salt": _hex(salt),
            "hkdf_info": _hex(KEY_INFO),
            "aead_key": _hex(key),
            "body": _hex(body),
            "signed_bytes": _hex(to_sign),
            "signature": _hex(signature),
            "packet": _hex(packet),
            "content_digest_input": _hex(digest_input),
            "content_digest": _hex(digest),
            "message_id": _hex(message_id(packet)),
            "frames": [_hex(frames.encode(c)) for c in chunks],
        },
        "ack": {
            "header": _hex(ack_header.encode()),
            "body": _hex(canonical.dumps({"digest": digest})),
            "packet": _hex(ack),
            "frames": [_hex(frames.encode(c)) for c in frames.split(ack)],
        },
        "nack": {"packet": _hex(nack)},
        "status": {"frame": _hex(frames.encode(status))},
    }


def main() -> None:
    PATH.write_text(json.dumps(build(INPUTS), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {PATH}")


if __name__ == "__main__":
    main()
