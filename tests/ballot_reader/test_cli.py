"""`pcos ballot read` as a user runs it: summary lines, JSON, overlays, exit codes."""

from __future__ import annotations

import argparse
import json

import cv2
import pytest

from election import definition
from election.errors import PcosLabError
from election.model import BallotKind
from fixtures.marks import MarkSpec
from pcos.commands.ballot_read import register_read
from tests.ballot_reader.pages import HOME_DEC, layout, national, scanned


def run(*argv: str) -> int:
    """What `pcos ballot ...` does: parse, run, one line and exit 2 on a user error."""
    parser = argparse.ArgumentParser(prog="pcos ballot")
    register_read(parser.add_subparsers())
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except PcosLabError as exc:
        print(f"pcos: error: {exc}")
        return 2


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("read")
    election_file = definition.save(national(), root / "election.json")
    lay = layout(BallotKind.SMD)
    good = root / "good.png"
    page = scanned(BallotKind.SMD, [MarkSpec("cross", lay.targets[0].id)], profile="typical")
    cv2.imwrite(str(good), page.image)
    junk = root / "junk.png"
    junk.write_text("not an image", encoding="utf-8")
    empty = root / "empty.jpg"
    empty.write_bytes(b"")
    return root, election_file, good, junk, empty, lay


def test_a_readable_page_exits_0_with_a_summary_line(files, capsys):
    _root, election_file, good, *_rest, lay = files
    code = run("read", str(good), "--election", str(election_file), "--dec", str(HOME_DEC))
    out = capsys.readouterr().out
    assert code == 0
    assert f"vote {lay.targets[0].option}" in out and "1 of 1 pages read" in out


def test_unreadable_pages_exit_1_and_say_why(files, capsys):
    _root, election_file, good, junk, empty, _lay = files
    code = run("read", str(good), str(junk), str(empty), "--election", str(election_file))
    out = capsys.readouterr().out
    assert code == 1
    assert "junk.png: UNREADABLE not_a_ballot" in out
    assert "empty.jpg: UNREADABLE not_a_ballot" in out and "1 of 3 pages read" in out


def test_json_and_overlay(files, capsys):
    root, election_file, good, *_rest, lay = files
    overlays = root / "overlays"
    code = run(
        "read", str(good), "--election", str(election_file), "--json", "--overlay", str(overlays)
    )
    result = json.loads(capsys.readouterr().out)[0]
    assert code == 0 and result["readable"]
    assert result["verdict"]["option"] == lay.targets[0].option
    assert len(result["targets"]) == len(lay.targets)
    image = cv2.imread(result["overlay"])
    assert image is not None and image.shape[2] == 3


def test_wrong_dec_is_unreadable(files, capsys):
    _root, election_file, good, *_ = files
    assert run("read", str(good), "--election", str(election_file), "--dec", "102") == 1
    assert "wrong_dec" in capsys.readouterr().out


def test_missing_image_and_bad_election_are_usage_errors(files, capsys, tmp_path):
    _root, election_file, good, *_ = files
    assert run("read", str(tmp_path / "nope.png"), "--election", str(election_file)) == 2
    assert "no such image file" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    assert run("read", str(good), "--election", str(bad)) == 2
