"""`pcos demo`: runs end to end, writes what it lists, and lands on the published seats."""

from __future__ import annotations

import json

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


def test_national_demo_reproduces_the_published_seats(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "[5/5]" in printed and "Where to look" in printed

    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    election = json.loads((out / "election.json").read_text(encoding="utf-8"))
    names = {p["id"]: p["name"] for p in election["parties"]}
    won = {names[p["party"]]: p["seats"] for p in results["pr_allocation"]["parties"] if p["seats"]}
    assert won == PUBLISHED_2021
    assert sum(len(m) for m in results["members"].values()) == 54
    repeat = sorted(c for c, r in results["smd"].items() if r["status"] == "repeat-election")
    assert len(repeat) == 2  # "against all" first in two Bishkek districts, as in 2021

    for name in ("seats.txt", "ballots/pr-ky-dec101.scan.png", "ballots/smd-ru-dec101-blank.pdf"):
        assert (out / name).stat().st_size > 0, name
    with Image.open(out / "ballots/pr-ky-dec101.marked.png") as img:
        assert img.mode == "L" and img.size == (1654, 2598)


def test_demo_is_reproducible(tmp_path, capsys):
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert main(["demo", "--scale", "tiny", "--seed", "3", "--out", str(out)]) == 0
        runs.append([(out / f).read_bytes() for f in ("results.json", "election.json")])
    capsys.readouterr()
    assert runs[0] == runs[1]


def test_demo_refuses_an_unknown_scale(tmp_path, capsys):
    assert main(["demo", "--scale", "galactic", "--out", str(tmp_path)]) == 2
    assert "galactic" in capsys.readouterr().err
