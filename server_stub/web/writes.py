"""The write endpoints: protocol uploads, packets over HTTP, unit key administration.

Bodies are read with a hard size limit before any parsing, so an oversized upload is
refused with 413 without being buffered whole.  Each endpoint checks everything it can
before it writes, and answers bad input with a 4xx JSON error and nothing stored.
"""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server_stub import uploads
from server_stub.errors import BadRequest, NotFound, TooLarge
from server_stub.service import ResultsService
from transport import packet as packets
from transport.crypto import VerifyKey
from transport.errors import KeyStoreError, Rejected

PACKET_BODY_MAX = packets.PACKET_MAX + 1024

# HTTP status of each transport rejection: what a client should do about it.
_REJECTION_STATUS = {
    "unknown-unit": 403,
    "revoked-unit": 403,
    "bad-signature": 403,
    "tampered": 403,
    "wrong-election": 409,
    "seq-reused": 409,
    "stale-seq": 409,
    "nonce-reused": 409,
    "oversized": 413,
    "store-failed": 503,
}


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes as soon as it is exceeded."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise TooLarge(f"body above {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"body above {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"body is not JSON: {exc}") from None


def routes(service: ResultsService) -> list[Route]:
    async def upload_protocol(request: Request) -> Response:
        """JSON body (the protocol), or multipart with ``protocol`` and optional ``image``."""
        header = request.headers.get("authorization")
        service.auth.commission(header)  # refuse strangers before reading megabytes
        body = await read_body(request, uploads.MAX_BODY_BYTES)
        kind = request.headers.get("content-type", "")
        scan = None
        if kind.startswith("multipart/form-data"):
            request._body = body  # let Starlette's parser read what was already limited
            try:
                form = await request.form(max_files=1, max_fields=4)
            except Exception as exc:  # the parser raises several types on bad input
                raise BadRequest(f"unreadable multipart body: {exc}") from None
            text = form.get("protocol")
            if text is None:
                raise BadRequest("multipart upload needs a 'protocol' field")
            protocol_json = text.encode() if isinstance(text, str) else await text.read()
            image = form.get("image")
            if image is not None and not isinstance(image, str):
                scan = uploads.Scan(await image.read(), image.filename or "")
        elif kind.startswith("application/json"):
            protocol_json = body
        else:
            raise BadRequest("send application/json or multipart/form-data")
        stored = service.upload_protocol(header, protocol_json, scan)
        return JSONResponse(
            {
                "id": stored.id,
                "dec": stored.dec,
                "contest": stored.contest,
                "commission": stored.commission,
                "image": stored.image_name is not None,
            },
            status_code=201,
        )

    async def post_packet(request: Request) -> Response:
        """One signed packet (or single-chunk frame): the signature is the authentication."""
        body = await read_body(request, PACKET_BODY_MAX)
        if not body:
            raise BadRequest("empty body: send the packet bytes")
        (outcome,) = service.intake.ingest([body])
        if outcome.error is not None:
            status = _REJECTION_STATUS.get(outcome.error.code, 400)
            error = {
                "code": outcome.error.code,
                "message": str(outcome.error),
                "nack": outcome.reply.hex(),
            }
            return JSONResponse({"error": error}, status_code=status)
        return JSONResponse({"status": outcome.status, "ack": outcome.reply.hex()})

    async def import_units(request: Request) -> Response:
        """``{"units": {"PCOS-0001": "<public key hex>", ...}}``; all or nothing."""
        service.auth.check_admin(request.headers.get("authorization"))
        data = _json(await read_body(request, 1024 * 1024))
        units = data.get("units") if isinstance(data, dict) else None
        if not isinstance(units, dict) or not units:
            raise BadRequest("expected {'units': {unit id: public key hex}}")
        for unit, public in units.items():
            try:
                VerifyKey(bytes.fromhex(public))
                packets.Header(packets.MessageType.HEARTBEAT, unit, "0" * 16, 0, 0, 0)
            except (ValueError, TypeError, Rejected) as exc:
                raise BadRequest(f"unit {unit!r}: {exc}") from None
            if unit in service.registry:
                raise BadRequest(f"unit {unit} is already registered")
        now = int(time.time())
        for unit, public in units.items():
            service.registry.add(unit, bytes.fromhex(public), now)
        service.registry.save()
        return JSONResponse({"imported": sorted(units)}, status_code=201)

    async def revoke_unit(request: Request) -> Response:
        service.auth.check_admin(request.headers.get("authorization"))
        data = _json(await read_body(request, 4096) or b"{}")
        reason = data.get("reason", "") if isinstance(data, dict) else None
        if not isinstance(reason, str) or not reason.strip():
            raise BadRequest("expected {'reason': text}")
        unit = request.path_params["unit"]
        try:
            service.registry.revoke(unit, reason[:200], int(time.time()))
        except (KeyStoreError, Rejected) as exc:
            raise NotFound(str(exc)) from None
        service.registry.save()
        return JSONResponse({"revoked": unit})

    return [
        Route("/api/v1/protocols", upload_protocol, methods=["POST"]),
        Route("/api/v1/packets", post_packet, methods=["POST"]),
        Route("/api/v1/admin/units", import_units, methods=["POST"]),
        Route("/api/v1/admin/units/{unit}/revoke", revoke_unit, methods=["POST"]),
    ]
