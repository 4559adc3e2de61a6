"""Manual protocol uploads: checked completely before anything is written.

A commission sends the protocol's numbers (JSON, as ``Protocol.to_json`` writes them)
and optionally the scan of the paper sheet.  The scan is stored under a generated name
in the uploads folder -- the client's file name is never used as a path, and one that
tries path tricks is refused outright -- then the row goes to the database; if that
fails the file is removed.  A sheet that breaks its own control relations is accepted:
it is what the commission wrote, and the discrepancy pages report it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from election.model import Election
from election.protocol import Protocol, ProtocolFormatError
from server_stub.errors import BadRequest, NotFound, TooLarge
from server_stub.store import SqlStore, StoredProtocol

MAX_IMAGE_BYTES = 8 * 1024 * 1024
MAX_PROTOCOL_BYTES = 256 * 1024
MAX_BODY_BYTES = MAX_IMAGE_BYTES + MAX_PROTOCOL_BYTES + 64 * 1024

IMAGE_TYPES = {
    b"\x89PNG\r\n\x1a\n": ("image/png", ".png"),
    b"\xff\xd8\xff": ("image/jpeg", ".jpg"),
    b"%PDF-": ("application/pdf", ".pdf"),
}


class BadProtocol(BadRequest):
    code = "bad-protocol"


class BadImage(BadRequest):
    code = "bad-image"


class BadFilename(BadRequest):
    code = "bad-filename"


@dataclass(frozen=True)
class Scan:
    data: bytes
    filename: str


def image_type(data: bytes) -> tuple[str, str]:
    """MIME type and extension from the file's first bytes; never from its name."""
    for magic, kind in IMAGE_TYPES.items():
        if data.startswith(magic):
            return kind
    raise BadImage("the scan must be a PNG, JPEG or PDF file")


def check_filename(name: str) -> None:
    """Refuse names that try to point anywhere: separators, '..', control characters."""
    if (
        not name
        or len(name) > 255
        or any(c in name for c in "/\\\0")
        or ".." in name
        or name.startswith((".", "~"))
        or any(ord(c) < 32 for c in name)
    ):
        raise BadFilename(f"file name {name[:80]!r} is not a plain file name")


def parse_protocol(text: bytes, election: Election) -> Protocol:
    if len(text) > MAX_PROTOCOL_BYTES:
        raise TooLarge(f"protocol JSON above {MAX_PROTOCOL_BYTES} bytes")
    try:
        data: Any = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadProtocol(f"protocol is not JSON: {exc}") from None
    try:
        protocol = Protocol.from_json(data)
    except ProtocolFormatError as exc:
        raise BadProtocol(str(exc)) from None
    if not election.has_dec(protocol.dec):
        raise NotFound(f"the election has no DEC {protocol.dec}")
    if protocol.contest not in {s.contest_id for s in election.styles_for(protocol.dec)}:
        raise BadProtocol(f"DEC {protocol.dec} does not vote in contest {protocol.contest}")
    return protocol


def save(
    store: SqlStore,
    folder: Path,
    protocol: Protocol,
    commission: str,
    scan: Scan | None,
) -> StoredProtocol:
    """Write the scan (if any) under a generated name, then the row; all or nothing."""
    name = kind = sha = None
    path = None
    if scan is not None:
        check_filename(scan.filename)
        if len(scan.data) > MAX_IMAGE_BYTES:
            raise TooLarge(f"scan above {MAX_IMAGE_BYTES} bytes")
        kind, ext = image_type(scan.data)
        sha = hashlib.sha256(scan.data).hexdigest()
        name = uuid.uuid4().hex + ext
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        tmp = folder / (name + ".part")
        with open(tmp, "xb") as handle:
            handle.write(scan.data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    record = StoredProtocol(
        protocol.dec, protocol.contest, commission, time.time(), protocol.to_json(),
        name, kind, sha,
    )  # fmt: skip
    try:
        new_id = store.add_protocol(record)
    except BaseException:
        if path is not None:
            path.unlink(missing_ok=True)
        raise
    return replace(record, id=new_id)
