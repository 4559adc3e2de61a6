"""`pcos`: the one command line of PCOS Lab.

Thin on purpose: it parses, calls the rooms, prints.  Every user-caused failure (a
``PcosLabError`` or an OS error on a path the user gave) becomes one line on stderr and
exit status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from election.errors import PcosLabError
from pcos.commands import (
    ballot_cmds,
    demo_cmds,
    device_cmds,
    election_cmds,
    server_cmds,
    transport_cmds,
)

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error that points at the right ``--help``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="pcos",
        description=(
            "PCOS Lab: a software twin of the Kyrgyz Republic's 2021 election information "
            "system: ballot scanners (PCOS), the secure channel, the results server and the "
            "auditors' verification tools."
        ),
        epilog="Start with 'pcos election summary --scenario kg2021 --scale national'.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=Parser)
    commands.required = True
    for module in (
        demo_cmds,
        election_cmds,
        ballot_cmds,
        device_cmds,
        transport_cmds,
        server_cmds,
    ):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except PcosLabError as exc:
        print(f"pcos: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        print(f"pcos: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("pcos: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
