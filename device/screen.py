"""The operator screen: state, counters and the last verdict, as plain text lines."""

from __future__ import annotations

from device.machine import Pcos
from device.states import allowed

TOP = 6
"""Options shown per contest: the screen is a status line, the tape has everything."""


def render(unit: Pcos) -> str:
    c = unit.config
    summary = unit.counters.summary()
    returned = sum(summary["returned"].values())
    lines = [
        f"PCOS {c.unit} | DEC {c.dec} | {'/'.join(c.contests)} | {unit.state.value.upper()}",
        f"accepted {summary['accepted']:,} | returned {returned:,} | "
        f"cast after warning {summary['cast_after_warning']:,} | "
        f"marginal {summary['marginal_marks']:,}",
    ]
    for contest, counters in unit.counters.contests.items():
        top = sorted(counters.votes.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]
        votes = "  ".join(f"{option} {n:,}" for option, n in top)
        lines.append(
            f"{contest}: {votes}  blank {counters.invalid['blank']:,}  "
            f"overvote {counters.invalid['overvote']:,}"
        )
    lines.append(f"last: {unit.last.describe() if unit.last else '-'}")
    if unit.fault:
        lines.append(f"FAULT: {unit.fault}")
    lines.append("actions: " + ", ".join(a.value for a in allowed(unit.state)))
    return "\n".join(lines) + "\n"
