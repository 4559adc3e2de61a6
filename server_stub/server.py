"""`pcos server`: the results website (uvicorn) and the modem gateway, in one process.

Both listen on loopback only.  The gateway is transport's, with the intake as its sink
and replay state, so a unit's ACK leaves only after its report is committed; it verifies
packets in one process per core and stores them with group commits.  The
publisher refreshes the snapshot in the background, once a second at most.  Run as
``python -m server_stub.server --election FILE`` (what ``pcos server`` calls after it
has built or loaded the election), it prints one JSON line with the addresses once both
are listening, for scripts and tests.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import socket
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from election import definition
from election.errors import PcosLabError
from election.model import Election
from server_stub import auth
from server_stub.errors import ConfigError
from server_stub.service import ResultsService
from server_stub.store import open_store
from server_stub.web.app import create_app
from transport.gateway import Gateway
from transport.keys import KeyStore
from transport.line_workers import LineWorkers, tune_gc

VAR = Path("var/server")

SWITCH_INTERVAL = 0.0005
"""Seconds a thread may keep the GIL while another waits for it (CPython's default is
0.005), set for the whole server process by :func:`start`.

The publisher's refresh is a long stretch of pure Python in this process, and the
intake beside it lets go of the GIL at every pipe read and SQLite step and must then
wait for it again.  At the default, a refresh of national data during a surge (0.2-0.3 s
of CPU) held the intake to almost no packets for its whole length, so some units' calls
waited that long for their ACKs.  At 0.5 ms the intake keeps committing during a
refresh: in ``bench/server.py`` the calls' p99 fell from about 300 to about 80 ms
(p50 30 -> 34 ms) at the same packets/s (four alternated pairs: 1,766 and 1,772/s).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The server's options (the election source is the caller's)."""
    parser.add_argument(
        "--db",
        default=str(VAR / "results.db"),
        help="SQLite file (WAL) or postgresql://… DSN (default: var/server/results.db)",
    )
    parser.add_argument("--keys", default="var/keys", help="key directory (default: var/keys)")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address (default: 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8080, help="website port (default: 8080; 0 = any)"
    )
    parser.add_argument(
        "--gateway-port",
        type=int,
        default=7070,
        help="modem gateway TCP port (default: 7070; 0 = any)",
    )
    parser.add_argument(
        "--tokens",
        default=str(VAR / "tokens.json"),
        help="token hashes; created with new tokens when missing",
    )
    parser.add_argument("--uploads", default=str(VAR / "uploads"), help="protocol scans folder")
    parser.add_argument(
        "--roll-margin",
        type=int,
        default=0,
        help="voters a DEC may add to its roll on the day (default: 0)",
    )
    parser.add_argument(
        "--refresh", type=float, default=1.0, help="seconds between snapshot refreshes (default: 1)"
    )


def check_loopback(host: str) -> None:
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigError(f"{host} is not a loopback address; this lab serves 127.0.0.1 only")


def ensure_keys(root: Path) -> KeyStore:
    """The key directory, with server keys created on first use."""
    keys = KeyStore(root)
    if not (root / "server" / "public.json").exists():
        keys.provision([])
    return keys


def ensure_tokens(election: Election, path: Path) -> Path | None:
    """Issue tokens when the hashes file is missing; returns where the tokens were written."""
    if path.exists():
        return None
    tokens = auth.issue(election, path)
    secret = path.with_name("tokens.secret.json")
    fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(tokens, handle, indent=1, sort_keys=True)
    return secret


def build(election: Election, args: argparse.Namespace) -> ResultsService:
    check_loopback(args.host)
    keys = ensure_keys(Path(args.keys))
    ensure_tokens(election, Path(args.tokens))
    return ResultsService(
        election=election,
        store=open_store(args.db),
        registry=keys.registry(),
        server_keys=keys.server_keys(),
        auth=auth.Auth.load(args.tokens),
        uploads_dir=Path(args.uploads),
        roll_margin=args.roll_margin,
    )


@dataclass
class Running:
    """A started server: its service, gateway and web server, and how to stop them."""

    service: ResultsService
    gateway: Gateway | LineWorkers
    web: uvicorn.Server
    web_address: tuple[str, int]
    db: str
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://{self.web_address[0]}:{self.web_address[1]}"

    def info(self) -> dict[str, Any]:
        host, port = self.gateway.address
        return {"url": self.url, "gateway": f"{host}:{port}", "db": self.db}

    def stop(self) -> None:
        self.web.should_exit = True
        self.thread.join(timeout=10)
        self.gateway.stop()
        self.service.close()


def start(
    service: ResultsService,
    args: argparse.Namespace,
    *,
    workers: int | None = None,
    max_batch: int = 256,
) -> Running:
    """Start the gateway, the publisher and the website (in a thread); returns once the
    website accepts connections.

    ``workers`` line-worker processes (default: one per core; 0 serves the calls in
    this process) and ``max_batch`` packets per group commit configure the gateway; the
    benchmark sets them to 0 and 1 to measure the one-packet-at-a-time path beside the
    default.
    """
    tune_gc()
    sys.setswitchinterval(SWITCH_INTERVAL)
    count = (os.cpu_count() or 1) if workers is None else workers
    parts = (
        service.registry,
        service.intake,
        service.server_keys,
        service.fingerprint,
        service.intake,
    )
    options: dict[str, Any] = {"host": args.host, "port": args.gateway_port, "max_batch": max_batch}
    gateway: Gateway | LineWorkers = (
        LineWorkers(*parts, workers=count, **options) if count > 0 else Gateway(*parts, **options)
    )
    gateway.start()
    service.publisher.start(args.refresh)
    sock = socket.create_server((args.host, args.port))
    config = uvicorn.Config(create_app(service), log_level="warning", access_log=False)
    web = uvicorn.Server(config)
    thread = threading.Thread(target=web.run, kwargs={"sockets": [sock]}, daemon=True)
    running = Running(service, gateway, web, sock.getsockname()[:2], args.db, thread)
    thread.start()
    while not web.started and thread.is_alive():
        threading.Event().wait(0.02)
    return running


def serve(election: Election, args: argparse.Namespace, echo: Any = print) -> int:
    """Run in the foreground until Ctrl-C or SIGTERM."""
    service = build(election, args)
    running = start(service, args)
    echo(json.dumps(running.info()))
    sys.stdout.flush()
    try:
        while running.thread.is_alive():
            running.thread.join(timeout=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server_stub.server", description=__doc__)
    parser.add_argument("--election", required=True, help="election definition JSON")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return serve(definition.load(args.election), args)
    except PcosLabError as exc:
        print(f"server: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
