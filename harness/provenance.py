"""Where a benchmark figure came from: the machine, its load, and the commit measured.

Every bench script puts this in its JSON, so a figure quoted in the README can be traced
to the code and the conditions that produced it.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any


def commit() -> str:
    """The git commit of the working tree, with ``-dirty`` when it has changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}{'-dirty' if dirty else ''}"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def machine(**extra: Any) -> dict[str, Any]:
    """Platform, processor, cores, Python and the 1-minute load (the machine is shared),
    plus what the bench adds (library versions, thread settings)."""
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        **extra,
    }


def emit(report: dict[str, Any], out: Path) -> None:
    """Write the report to ``out`` (creating its folder) and print it, as every bench does."""
    text = json.dumps(report, indent=2)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n", encoding="utf-8")
    print(text)
