"""The two whole runs: the ground truth (national calibration) and the spine demo."""

from __future__ import annotations

import json
import re

import pytest
from PIL import Image

from pcos.cli import main

PUBLISHED_2021 = {
    "Ata-Jurt Kyrgyzstan": 15,
    "Ishenim": 12,
    "Yntymak": 9,
    "Alliance": 7,
    "Butun Kyrgyzstan": 6,
    "Yiman Nuru": 5,
}


def _won(out):
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    election = json.loads((out / "election.json").read_text(encoding="utf-8"))
    names = {p["id"]: p["name"] for p in election["parties"]}
    seats = {names[p["party"]]: p["seats"] for p in results["pr_allocation"]["parties"]}
    return results, {name: n for name, n in seats.items() if n}


def test_national_ground_truth_reproduces_the_published_seats(tmp_path, capsys):
    out = tmp_path / "gt"
    assert main(["election", "results", "--scale", "national", "--out", str(out)]) == 0
    assert "[5/5]" in capsys.readouterr().out
    results, won = _won(out)
    assert won == PUBLISHED_2021
    assert sum(len(m) for m in results["members"].values()) == 54
    repeat = sorted(c for c, r in results["smd"].items() if r["status"] == "repeat-election")
    assert len(repeat) == 2  # "against all" first in two Bishkek districts, as in 2021
    with Image.open(out / "ballots/pr-ky-dec101.marked.png") as img:
        assert img.mode == "L" and img.size == (1654, 2598)


def test_ground_truth_is_reproducible(tmp_path, capsys):
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        argv = ["election", "results", "--scale", "tiny", "--seed", "3", "--out", str(out)]
        assert main(argv) == 0
        runs.append([(out / f).read_bytes() for f in ("results.json", "election.json")])
    capsys.readouterr()
    assert runs[0] == runs[1]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["election", "results", "--scale", "galactic"], "galactic"),
        (["demo", "--scale", "galactic", "--exit"], "galactic"),
        (["demo", "--modem", "wobbly", "--exit"], "wobbly"),
    ],
)
def test_refusals(tmp_path, capsys, argv, needle):
    assert main([*argv, "--out", str(tmp_path / "x")]) == 2
    assert needle in capsys.readouterr().err


def test_demo_spine_totals_equal_the_ground_truth(tmp_path, capsys):
    """`pcos demo --exit`: every ballot read from its scan by its DEC's unit, journaled,
    printed, sent through a modem to the server, and published exactly."""
    out = tmp_path / "demo"
    code = main(["demo", "--exit", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "Spine check passed" in printed
    assert re.search(r"website +http://127\.0\.0\.1:\d+/", printed)

    truth_run = tmp_path / "gt"
    assert main(["election", "results", "--scale", "tiny", "--out", str(truth_run)]) == 0
    demo_results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    truth_results = json.loads((truth_run / "results.json").read_text(encoding="utf-8"))
    assert demo_results["pr_tally"] == truth_results["pr_tally"]
    assert demo_results["pr_allocation"] == truth_results["pr_allocation"]
    assert demo_results["smd"] == truth_results["smd"]

    units = sorted(p.name for p in (out / "units").iterdir())
    assert len(units) == 10
    for unit in units:
        for name in ("zero.txt", "zero.json", "final.txt", "final.json"):
            assert (out / "units" / unit / name).stat().st_size > 0
        final = json.loads((out / "units" / unit / "final.json").read_text(encoding="utf-8"))
        assert final["kind"] == "final" and final["ballots"]["accepted"] > 0
