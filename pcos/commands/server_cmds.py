"""`pcos server`: run the central server; `pcos server protocol` and `pcos server export`.

The election comes from a definition file or a generated scenario, as elsewhere in the
CLI; the server itself (``server_stub``) only ever sees the built definition.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from pcos.commands.common import add_election_source, load_election
from server_stub import server
from server_stub.errors import BadRequest


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "server",
        help="run the central server: modem gateway, results website and JSON API",
        description=(
            "Start the results website and API (uvicorn) and the modem gateway on "
            "127.0.0.1, storing in SQLite (WAL) under var/server or in PostgreSQL "
            "(--db postgresql://...).  Prints one JSON line with the addresses."
        ),
    )
    add_election_source(parser)
    server.add_arguments(parser)
    parser.set_defaults(run=_serve)
    sub = parser.add_subparsers(dest="server_command")

    upload = sub.add_parser(
        "protocol", help="upload a manual count protocol (JSON) and its scan to a running server"
    )
    upload.add_argument("protocol", help="protocol JSON file (Protocol.to_json format)")
    upload.add_argument("--image", help="scan of the paper protocol (PNG, JPEG or PDF)")
    upload.add_argument("--url", default="http://127.0.0.1:8080", help="server URL")
    upload.add_argument("--token", required=True, help="the territorial commission's token")
    upload.set_defaults(run=_upload)

    export = sub.add_parser("export", help="download a NIST export from a running server")
    export.add_argument("kind", choices=("nist-results", "nist-cvr"))
    export.add_argument("--url", default="http://127.0.0.1:8080", help="server URL")
    export.add_argument("--out", help="write to this file instead of stdout")
    export.set_defaults(run=_export)


def _serve(args: argparse.Namespace) -> int:
    return server.serve(load_election(args), args)


def _request(request: urllib.request.Request) -> bytes:
    server.check_loopback(request.host.split(":")[0])
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        body = exc.read().decode("utf-8", "replace")
        try:
            message = json.loads(body)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = body[:200]
        raise BadRequest(f"server answered {exc.code}: {message}") from None
    except urllib.error.URLError as exc:
        raise BadRequest(f"cannot reach {request.full_url}: {exc.reason}") from None


def _upload(args: argparse.Namespace) -> int:
    protocol = Path(args.protocol).read_bytes()
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="protocol"\r\n'
        f"Content-Type: application/json\r\n\r\n".encode()
        + protocol
        + b"\r\n"
    ]
    if args.image:
        image = Path(args.image)
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; '
            f'filename="{image.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            + image.read_bytes()
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        args.url.rstrip("/") + "/api/v1/protocols",
        data=body,
        method="POST",
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Authorization": f"Bearer {args.token}",
        },
    )
    print(_request(request).decode())
    return 0


def _export(args: argparse.Namespace) -> int:
    data = _request(urllib.request.Request(args.url.rstrip("/") + f"/api/v1/export/{args.kind}"))
    if args.out:
        Path(args.out).write_bytes(data)
        print(args.out)
    else:
        sys.stdout.write(data.decode() + "\n")
    return 0
