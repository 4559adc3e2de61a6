"""`pcos election ...` as a user runs it: the national figures, and clear refusals."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pcos.cli import main

SEED_REGIONS = {
    "Batken oblast": (3, 36),
    "Osh city and Osh oblast": (9, 44),
    "Djalal-Abad oblast": (7, 45),
    "Talas oblast": (2, 12),
    "Chui oblast": (6, 58),
    "Bishkek city": (4, 26),
    "Naryn oblast": (2, 26),
    "Issyk-Kul oblast": (3, 39),
}


def run_json(capsys, *argv):
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def national(tmp_path_factory):
    # One capture shared by the figure tests below; main() is what `pcos` runs.
    from contextlib import redirect_stdout
    from io import StringIO

    out = StringIO()
    with redirect_stdout(out):
        code = main(
            ["election", "summary", "--scenario", "kg2021", "--scale", "national", "--json"]
        )
    assert code == 0
    return json.loads(out.getvalue())


def test_national_seats_and_contestants(national):
    assert national["seats"] == {"total": 90, "pr": 54, "smd": 36}
    assert national["parties"] == 21
    assert national["list_candidates"] == 1006
    assert national["max_list_length"] <= 54
    assert national["smd_candidates"] == 286
    assert national["districts"] == 36


def test_national_regions_match_the_seed(national):
    got = {
        name: (g["districts"], g["smd_candidates"])
        for name, g in national["by_seed_region"].items()
    }
    assert got == SEED_REGIONS


def test_national_decs_rolls_and_units(national):
    assert national["decs"] == {"total": 2494, "home": 2435, "abroad": 59}
    assert national["rolls"] == {
        "single_constituency": 3_703_420,
        "abroad": 84_128,
        "smd": 3_619_292,
    }
    assert national["units"]["total"] == 5700
    assert national["units"]["at_decs"] + national["units"]["reserve"] == 5700


def test_build_then_validate_round_trip(tmp_path, capsys):
    out = tmp_path / "kg.json"
    built = run_json(
        capsys, "election", "build", "--scale", "tiny", "--seed", "4", "--out", str(out)
    )
    checked = run_json(capsys, "election", "validate", str(out))
    assert checked["valid"] is True
    assert checked["fingerprint"] == built["fingerprint"]


def test_same_seed_same_definition_bytes(tmp_path):
    paths = [tmp_path / "a.json", tmp_path / "b.json"]
    for path in paths:
        assert (
            main(["election", "build", "--scale", "national", "--seed", "9", "--out", str(path)])
            == 0
        )
    assert paths[0].read_bytes() == paths[1].read_bytes()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["election", "summary", "--scale", "galactic"], "galactic"),
        (["election", "summary", "--scenario", "kg1999"], "kg1999"),
        (["election", "summary", "--seed", "-3"], "seed"),
        (["election", "validate", "/nonexistent/kg.json"], "no such file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err


def test_bad_definition_names_the_field(tmp_path, capsys):
    good = tmp_path / "good.json"
    assert main(["election", "build", "--scale", "tiny", "--out", str(good)]) == 0
    data = json.loads(good.read_text(encoding="utf-8"))
    data["decs"][2]["roll_pr"] = -5
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    capsys.readouterr()
    assert main(["election", "validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "decs[2].roll_pr" in err and "at least 0" in err


def test_installed_command_reports_without_traceback(tmp_path):
    """The real process: exit status 2, one stderr line, no Python traceback."""
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{ not json", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "pcos.cli", "election", "validate", str(garbage)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("pcos: error:") and "not JSON" in proc.stderr


def test_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["ballot-box"])
    assert exc.value.code == 2
    assert "see 'pcos --help'" in capsys.readouterr().err
