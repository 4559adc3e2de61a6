"""The device commands end to end, on a unit directory in a temporary folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from device.machine import AUDIT, JOURNAL
from pcos.cli import main

CLOCK = ["--clock", "2021-11-28T07:30:00+06:00"]


@pytest.fixture(scope="module")
def unit_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("unit") / "2001-PR"
    assert (
        main(
            [
                "device",
                "run",
                "--dec",
                "2001",
                "--generate",
                "80",
                "--unit-dir",
                str(root),
                "--jam-every",
                "17",
                "--quiet",
                *CLOCK,
            ]
        )
        == 0
    )
    return root


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_run_writes_reports_and_resumes(unit_dir: Path, capsys) -> None:
    for name in ("zero.txt", "zero.json", "final.txt", "final.json", JOURNAL, AUDIT):
        assert (unit_dir / name).is_file()
    final = json.loads((unit_dir / "final.json").read_text())
    assert final["ballots"]["accepted"] == 80


def test_report_reprint_and_verify_photo_and_text(unit_dir: Path, tmp_path: Path, capsys) -> None:
    png = tmp_path / "final.png"
    later = ["--clock", "2021-11-29T08:00:00+06:00"]
    assert (
        main(["device", "report", "final", "--unit-dir", str(unit_dir), "--png", str(png), *later])
        == 0
    )
    assert "FINAL REPORT" in capsys.readouterr().out
    website = str(unit_dir / "final.json")
    assert main(["report", "verify", str(png), "--compare", website, "--json"]) == 0
    result = _json(capsys)
    assert result["valid"] and result["payload"]["a"] == 80
    assert main(["report", "verify", str(unit_dir / "final.txt"), "--key", result["key"][:16]]) == 0
    assert "signature valid" in capsys.readouterr().out
    assert main(["report", "verify", str(unit_dir / "final.txt"), "--key", "00" * 8]) == 1


def test_verify_log_ok_and_tampered(unit_dir: Path, tmp_path: Path, capsys) -> None:
    assert main(["device", "verify-log", str(unit_dir / AUDIT)]) == 0
    assert "OK" in capsys.readouterr().out
    lines = (unit_dir / AUDIT).read_bytes().split(b"\n")
    del lines[9]
    bad = tmp_path / "audit.log"
    bad.write_bytes(b"\n".join(lines))
    assert main(["device", "verify-log", str(bad)]) == 1
    assert "record 10" in capsys.readouterr().out


def test_testdeck_passes_and_miscalibrated_fails(capsys) -> None:
    assert main(["testdeck", "--dec", "2001", "--contest", "all", *CLOCK]) == 0
    assert "PASSED" in capsys.readouterr().out
    assert main(["testdeck", "--dec", "2001", "--miscalibrate", *CLOCK]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_takeover_then_continue(unit_dir: Path, tmp_path: Path, capsys) -> None:
    reserve = tmp_path / "reserve"
    args = ["--unit-dir", str(reserve), "--dec", "2001", "--unit", "2001-PR-R", *CLOCK]
    assert main(["device", "takeover", "--from", str(unit_dir / JOURNAL), "--json", *args]) == 0
    assert _json(capsys)["ballots"] == 80
    assert main(["device", "run", "--generate", "5", "--box-seed", "7", "--json", *args]) == 2
    assert "clock" in capsys.readouterr().err  # the simulated clock restarted: refused
    later = ["--unit-dir", str(reserve), "--clock", "2021-11-28T12:00:00+06:00"]
    assert main(["device", "run", "--generate", "5", "--box-seed", "7", "--json", *later]) == 0
    assert _json(capsys)["accepted"] == 85


def test_bad_input_is_one_line_and_exit_2(unit_dir: Path, tmp_path: Path, capsys) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in (JOURNAL, AUDIT, "unit.key"):
        (broken / name).write_bytes((unit_dir / name).read_bytes())
    data = bytearray((broken / JOURNAL).read_bytes())
    data[300] ^= 0x10
    (broken / JOURNAL).write_bytes(bytes(data))
    later = ["--clock", "2021-11-29T09:00:00+06:00"]
    assert main(["device", "run", "--generate", "3", "--unit-dir", str(broken), *later]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refuses" in err and "journal corrupt" in err
    assert (broken / JOURNAL).read_bytes() == bytes(data)
    other = ["--seed", "3", "--unit-dir", str(unit_dir), *later]
    assert main(["device", "report", "final", *other]) == 2
    assert "definition" in capsys.readouterr().err
    assert (
        main(
            ["device", "run", "--dec", "999", "--generate", "1", "--unit-dir", str(tmp_path / "x")]
        )
        == 2
    )
    assert "no DEC 999" in capsys.readouterr().err
