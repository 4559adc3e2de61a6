"""`pcos ballot render|mark|scan` as a user runs them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from pcos.cli import main


def test_render_png_and_pdf(tmp_path, capsys):
    png, pdf = tmp_path / "pr.png", tmp_path / "smd.pdf"
    assert main(["ballot", "render", "--kind", "PR", "--dpi", "100", "--out", str(png)]) == 0
    assert main(["ballot", "render", "--kind", "SMD", "--lang", "ru", "--out", str(pdf)]) == 0
    with Image.open(png) as img:
        assert img.mode == "L"
        assert round(img.info["dpi"][0]) == 100
        assert img.size == (827, 1299)  # 210 x 330 mm at 100 dpi
    assert pdf.read_bytes().startswith(b"%PDF")
    assert "wrote" in capsys.readouterr().out


def test_mark_then_scan_is_seeded(tmp_path, capsys):
    outputs = []
    for name in ("a", "b"):
        marked, scanned = tmp_path / f"{name}-m.png", tmp_path / f"{name}-s.png"
        assert main(["ballot", "mark", "--seed", "11", "--out", str(marked), "--json"]) == 0
        intent = json.loads(capsys.readouterr().out)["intent"]
        argv = ["ballot", "scan", str(marked), "--seed", "5", "--profile", "envelope"]
        assert main([*argv, "--out", str(scanned)]) == 0
        capsys.readouterr()
        outputs.append((intent, marked.read_bytes(), scanned.read_bytes()))
    assert outputs[0] == outputs[1]
    assert len(outputs[0][0]["options"]) == 1


def test_marks_land_where_asked(tmp_path, capsys):
    blank, marked = tmp_path / "blank.png", tmp_path / "marked.png"
    assert main(["ballot", "render", "--out", str(blank)]) == 0
    capsys.readouterr()
    argv = ["ballot", "mark", "--votes", "P03,N2", "--mark-type", "fill", "--out", str(marked)]
    assert main([*argv, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [m["target"] for m in result["marks"]] == ["PR/P03", "PR/N02"]
    diff = np.asarray(Image.open(blank), np.int16) - np.asarray(Image.open(marked), np.int16)
    assert diff.max() > 100  # ink went down somewhere


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["ballot", "render", "--dpi", "0", "--out", "x.png"], "dpi"),
        (["ballot", "render", "--dpi", "nan", "--out", "x.png"], "dpi"),
        (["ballot", "render", "--out", "x.gif"], ".png or .pdf"),
        (["ballot", "render", "--dec", "5", "--out", "x.png"], "DEC 5"),
        (["ballot", "render", "--scale", "galactic", "--out", "x.png"], "galactic"),
        (["ballot", "mark", "--votes", "P99", "--out", "x.png"], "P99"),
        (["ballot", "mark", "--votes", "N77", "--out", "x.png"], "preference box 77"),
        (
            [
                "ballot",
                "mark",
                "--votes",
                "P01",
                "--mark-type",
                "fill",
                "--fill",
                "3",
                "--out",
                "x.png",
            ],
            "fill",
        ),
        (["ballot", "mark", "--votes", "P01", "--mark-type", "smudge", "--out", "x.png"], "smudge"),
        (
            [
                "ballot",
                "mark",
                "--votes",
                "P01",
                "--mark-type",
                "fill",
                "--darkness",
                "-1",
                "--out",
                "x.png",
            ],
            "darkness",
        ),
        (["ballot", "mark", "--policy", "careless", "--out", "x.png"], "careless"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, argv, needle):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err
    assert not (tmp_path / "x.png").exists()


def test_scan_refuses_what_is_not_an_image(tmp_path, capsys):
    text = tmp_path / "notes.png"
    text.write_text("these are not pixels", encoding="utf-8")
    assert main(["ballot", "scan", str(text), "--out", str(tmp_path / "s.png")]) == 2
    assert "not an image" in capsys.readouterr().err
    assert (
        main(["ballot", "scan", str(tmp_path / "none.png"), "--out", str(tmp_path / "s.png")]) == 2
    )
    assert "No such file" in capsys.readouterr().err
