"""`pcos keys provision|list|revoke` and `pcos modem`; link options for `pcos device transmit`.

The device command group calls :func:`add_link_arguments` on its ``transmit`` parser and
:func:`transmit` to deliver its journalled reports.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from pcos.commands.common import add_json, emit, table
from transport.errors import KeyStoreError
from transport.impair import PROFILES, profile
from transport.keys import DEFAULT_DIR, KeyStore
from transport.link import Link, Outgoing, Receipt, RetryPolicy
from transport.link import transmit as deliver_all
from transport.modem import ModemEmulator


def _add_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir",
        default=str(DEFAULT_DIR),
        metavar="DIR",
        help=f"key directory (default: {DEFAULT_DIR})",
    )


def register(commands: argparse._SubParsersAction) -> None:
    keys = commands.add_parser(
        "keys",
        help="provision, list and revoke unit keys and the server's keys",
        description=(
            "Ed25519 identity keys of PCOS units, the server's signing and X25519 keys, and "
            "the registry of unit public keys the server checks every packet against."
        ),
    )
    sub = keys.add_subparsers(title="subcommands", metavar="SUBCOMMAND")
    sub.required = True

    provision = sub.add_parser(
        "provision",
        help="create unit keys (and the server's keys the first time)",
        description="Create key files (mode 0600) and registry entries; never overwrites.",
    )
    _add_dir(provision)
    provision.add_argument("units", nargs="*", metavar="UNIT", help="unit ids")
    provision.add_argument("--count", type=int, default=0, help="also create N numbered units")
    provision.add_argument("--prefix", default="PCOS-", help="prefix of numbered units")
    provision.add_argument(
        "--seed",
        type=int,
        default=None,
        help="derive keys from a seed (reproducible simulations only, never a real election)",
    )
    add_json(provision)
    provision.set_defaults(run=_provision)

    listing = sub.add_parser("list", help="units in the registry and their state")
    _add_dir(listing)
    add_json(listing)
    listing.set_defaults(run=_list)

    revoke = sub.add_parser(
        "revoke",
        help="refuse a unit's packets from now on",
        description="Mark a unit revoked in the registry; its later packets get revoked-unit.",
    )
    _add_dir(revoke)
    revoke.add_argument("unit", metavar="UNIT")
    revoke.add_argument("--reason", required=True, help="why, for the audit trail")
    add_json(revoke)
    revoke.set_defaults(run=_revoke)

    modem = commands.add_parser(
        "modem",
        help="run a Hayes AT modem emulator on a pseudo-terminal",
        description=(
            "Start a modem emulator: prints the pty path to open as the device's serial "
            "port; once dialled (ATD) it bridges to the gateway over loopback TCP, impairing "
            "the line as the profile says."
        ),
    )
    modem.add_argument(
        "--gateway", required=True, type=_address, metavar="HOST:PORT", help="loopback only"
    )
    modem.add_argument(
        "--profile", default="clean", choices=sorted(PROFILES), help="impairments (default: clean)"
    )
    modem.add_argument("--rate", type=int, default=None, help="limit the line to BPS bits/s")
    modem.add_argument("--seed", type=int, default=0, help="impairment seed (default: 0)")
    modem.add_argument("--guard", type=float, default=1.0, help="+++ guard time, seconds")
    modem.add_argument("--seconds", type=float, default=None, help="stop after this long")
    modem.set_defaults(run=_modem)


def _provision(args: argparse.Namespace) -> int:
    units = list(args.units)
    units += [f"{args.prefix}{n:04d}" for n in range(1, args.count + 1)]
    if not units:
        raise KeyStoreError("name the units to provision, or give --count")
    store = KeyStore(Path(args.dir))
    created = store.provision(units, seed=args.seed)
    result = {"dir": str(store.root), "created": created, "server": store.server_public().to_json()}
    emit(args, result, lambda r: f"provisioned {len(r['created'])} unit(s) in {r['dir']}\n")
    return 0


def _list(args: argparse.Namespace) -> int:
    units = KeyStore(Path(args.dir)).registry().units()

    def text(data: dict) -> str:
        rows = [
            [unit, e["public"][:16] + "…", "revoked" if e["revoked"] else "active"]
            for unit, e in data.items()
        ]
        return table(["unit", "public key", "state"], rows) if rows else "no units\n"

    emit(args, units, text)
    return 0


def _revoke(args: argparse.Namespace) -> int:
    registry = KeyStore(Path(args.dir)).registry()
    registry.revoke(args.unit, args.reason, int(time.time()))
    registry.save()
    emit(args, {"revoked": args.unit}, lambda r: f"revoked {r['revoked']}\n")
    return 0


def _modem(args: argparse.Namespace) -> int:
    line = profile(args.profile)
    if args.rate:
        line = line.with_rate(args.rate)
    emulator = ModemEmulator(args.gateway, line, seed=args.seed, guard_time=args.guard)
    host, port = args.gateway
    print(f"modem {line.name} on {emulator.start()} -> {host}:{port}", flush=True)
    try:
        threading.Event().wait(args.seconds)  # None: until Ctrl-C
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    print(f"modem stopped: {emulator.stats} line {emulator.line_stats()}", file=sys.stderr)
    return 0


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return host, int(port)


# For `pcos device transmit` ------------------------------------------------------------------


def add_link_arguments(parser: argparse.ArgumentParser) -> None:
    """Options naming the line, the number to dial and the key directory."""
    parser.add_argument(
        "--port",
        required=True,
        metavar="URL",
        help="serial port: a device or pty path, socket://HOST:PORT or loop://",
    )
    parser.add_argument("--number", default=None, help="number to dial (omit: no modem)")
    parser.add_argument("--baud", type=int, default=9600, help="serial speed (default: 9600)")
    _add_dir(parser)


def transmit(
    args: argparse.Namespace, unit: str, election: str, dec: int, outbox: Iterable[Outgoing]
) -> Iterator[Receipt]:
    """Deliver ``outbox`` as ``unit`` with the options of :func:`add_link_arguments`.

    Yields each verified receipt as soon as it arrives, for the device to journal.
    """
    store = KeyStore(Path(args.dir))
    server = store.server_public()
    key = store.unit_key(unit)
    seed = getattr(args, "seed", 0)
    with Link(
        args.port, server, number=args.number, policy=RetryPolicy(), seed=seed, baudrate=args.baud
    ) as link:
        yield from deliver_all(link, key, server, election, dec, outbox)
