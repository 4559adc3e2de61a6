"""The import rule of docs/architecture.md, checked on every module's source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROOMS = (
    "election",
    "fixtures",
    "ballot_reader",
    "transport",
    "device",
    "server_stub",
    "harness",
    "pcos",
)
ALLOWED = {
    "election": set(),
    "fixtures": {"election"},
    "ballot_reader": {"election"},
    "transport": {"election"},
    "device": {"election", "fixtures", "ballot_reader", "transport"},
    "server_stub": {"election", "transport"},
    "harness": {"election", "fixtures", "ballot_reader", "transport", "device", "server_stub"},
    "pcos": set(ROOMS) - {"pcos"},
}


def _imported_rooms(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & set(ROOMS)


@pytest.mark.parametrize("room", ROOMS)
def test_rooms_import_only_lower_rooms(room):
    offenders = {}
    for path in sorted((ROOT / room).rglob("*.py")):
        bad = _imported_rooms(path) - ALLOWED[room] - {room}
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}, f"{room} imports rooms above it: {offenders}"
