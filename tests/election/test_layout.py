"""Ballot geometry: everything on the page, nothing on top of a target's clear zone."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from election.definition import fingerprint
from election.layout import (
    FIDUCIAL_IDS,
    LAYOUT_VERSION,
    Layout,
    LayoutError,
    Rect,
    layout_for,
    mm_to_pixel_matrix,
    page_pixels,
)
from election.model import AGAINST_ALL, LANGUAGES, BallotKind, BallotStyle
from election.stylecode import CELL_COUNT, StyleCode, StyleCodeError, election_tag
from tests.fixtures._tiny_election import tiny_election

ELECTION = tiny_election(parties=21, list_length=54, district_sizes=(20, 4))
PR = layout_for(ELECTION, BallotStyle(BallotKind.PR, "ky"), dec=1001, election_tag=0xBEEF)
SMD = layout_for(ELECTION, BallotStyle(BallotKind.SMD, "ru", 1), dec=1001, election_tag=0xBEEF)
BOTH = pytest.mark.parametrize("layout", [PR, SMD], ids=["PR", "SMD"])


def _rule_rect(rule) -> Rect:
    (x0, y0), (x1, y1) = rule.start, rule.end
    half = rule.width / 2
    return Rect.from_edges(
        min(x0, x1) - half, min(y0, y1) - half, max(x0, x1) + half, max(y0, y1) + half
    )


def _printed(layout: Layout) -> list[tuple[str, Rect]]:
    """Everything printed other than targets, by name."""
    items = [(f"text {t.texts[0]!r}", t.rect) for t in layout.texts]
    items += [(f"rule {r.start}", _rule_rect(r)) for r in layout.rules]
    items += [(f"fiducial {f.position}", f.quiet) for f in layout.fiducials]
    items += [("style code", layout.code_region)]
    return items


@BOTH
def test_targets_lie_well_inside_the_page(layout):
    inner = layout.page.expanded(-10.0)
    for target in layout.targets:
        assert inner.contains(target.clear), target.id
        assert target.clear.contains(target.box)


@BOTH
def test_clear_zones_overlap_nothing(layout):
    targets = layout.targets
    for i, a in enumerate(targets):
        for b in targets[i + 1 :]:
            assert not a.clear.overlaps(b.clear), (a.id, b.id)
        for name, rect in _printed(layout):
            assert not a.clear.overlaps(rect), (a.id, name)


@BOTH
def test_fiducials_sit_in_their_corners_with_distinct_ids(layout):
    corners = {
        "TL": (0, 0),
        "TR": (layout.width, 0),
        "BR": (layout.width, layout.height),
        "BL": (0, layout.height),
    }
    assert [f.position for f in layout.fiducials] == ["TL", "TR", "BR", "BL"]
    assert len({f.marker_id for f in layout.fiducials}) == 4
    for fid in layout.fiducials:
        assert fid.marker_id == FIDUCIAL_IDS[fid.position]
        cx, cy = corners[fid.position]
        assert abs(fid.center[0] - cx) <= 20 and abs(fid.center[1] - cy) <= 20
        assert layout.page.contains(fid.quiet)
        (x0, y0), (x1, _), (_, y2), _ = fid.corners
        assert (x0, y0) < (x1, y2) and x1 - x0 == pytest.approx(fid.size)
        assert y2 - y0 == pytest.approx(fid.size)


@BOTH
def test_text_stays_on_the_page_and_off_the_fiducials(layout):
    for name, rect in _printed(layout):
        assert layout.page.contains(rect), name
    quiet = [f.quiet for f in layout.fiducials]
    for item in layout.texts:
        assert not any(item.rect.overlaps(q) for q in quiet), item.texts
        assert all(item.texts) and len(item.texts) == len(LANGUAGES)


@BOTH
def test_code_strip_runs_between_the_bottom_fiducials(layout):
    cells = layout.code_cells
    assert len(cells) == CELL_COUNT
    for a, b in itertools.pairwise(cells):
        assert a.x1 == pytest.approx(b.x0) and a.cy == b.cy
    bottom = [f for f in layout.fiducials if f.position in ("BL", "BR")]
    for fid in bottom:
        assert not layout.code_region.overlaps(fid.quiet)
        assert fid.quiet.y0 <= cells[0].cy <= fid.quiet.y1


def test_pr_targets_and_ids():
    ids = [t.id for t in PR.targets]
    assert ids[:21] == [f"PR/P{p:02d}" for p in range(1, 22)]
    assert ids[21] == "PR/AGAINST_ALL"
    assert ids[22:] == [f"PR/N{n:02d}" for n in range(1, 55)]
    assert PR.option_target(AGAINST_ALL).option == AGAINST_ALL
    n12 = PR.preference_target(12)
    assert (n12.id, n12.contest, n12.option, n12.preference) == ("PR/N12", "PR", None, 12)
    assert {round(t.box.w, 3) for t in PR.targets} == {6.0}
    with pytest.raises(LayoutError, match="PR/N55"):
        PR.preference_target(55)


def test_smd_targets_and_ids():
    ids = [t.id for t in SMD.targets]
    assert ids == [f"SMD-01/D01-C{c:02d}" for c in range(1, 21)] + ["SMD-01/AGAINST_ALL"]
    assert all(t.contest == "SMD-01" and t.preference is None for t in SMD.targets)


def test_languages_share_one_geometry():
    for style_ru, layout in (
        (BallotStyle(BallotKind.PR, "ru"), PR),
        (BallotStyle(BallotKind.SMD, "ky", 1), SMD),
    ):
        assert layout_for(ELECTION, style_ru, dec=1001, election_tag=0xBEEF) == layout


def test_texts_name_the_parties_and_speak_both_languages():
    texts = {t.text(lang) for t in PR.texts for lang in LANGUAGES}
    assert "Бүтүн Кыргызстан" in texts
    assert "ШАЙЛОО БЮЛЛЕТЕНИ" in texts and "ИЗБИРАТЕЛЬНЫЙ БЮЛЛЕТЕНЬ" in texts
    assert any("28 ноября 2021" in t for t in texts)


def test_style_code_follows_the_layout():
    assert PR.style_code("ru") == StyleCode(0xBEEF, BallotKind.PR, 0, 1001, "ru", LAYOUT_VERSION)
    assert SMD.style_code("ky").district == 1
    with pytest.raises(LayoutError):
        PR.style_code("en")


def test_default_tag_comes_from_the_fingerprint():
    layout = layout_for(ELECTION, BallotStyle(BallotKind.PR, "ky"))
    assert layout.election_tag == election_tag(fingerprint(ELECTION))
    assert layout.dec == 0


def test_smaller_contests_get_roomier_rows():
    small = tiny_election(parties=4, list_length=10, district_sizes=(3,))
    layout = layout_for(small, BallotStyle(BallotKind.PR, "ky"), election_tag=1)
    assert len(layout.targets) == 5 + 54  # the full kg2021 grid, whatever the list length
    assert layout.targets[1].box.cy - layout.targets[0].box.cy == pytest.approx(10.0)


@pytest.mark.parametrize(
    ("style", "dec", "message"),
    [
        (BallotStyle(BallotKind.SMD, "ky", 9), 0, "no district 9"),
        (BallotStyle(BallotKind.PR, "ky", 1), 0, "no district"),
        (BallotStyle(BallotKind.PR, "en"), 0, "language"),
        (BallotStyle(BallotKind.PR, "ky"), 4242, "no DEC 4242"),
        (BallotStyle(BallotKind.SMD, "ky", 1), 9001, "abroad"),
        (BallotStyle(BallotKind.SMD, "ky", 2), 1001, "district 1, not 2"),
    ],
)
def test_bad_styles_raise(style, dec, message):
    with pytest.raises(LayoutError, match=message):
        layout_for(ELECTION, style, dec=dec, election_tag=1)


def test_too_many_options_raise():
    crowded = dataclasses.replace(
        ELECTION,
        smd_candidates=tuple(
            dataclasses.replace(c, id=f"D01-C{k:02d}", ballot_position=k)
            for k, c in enumerate(ELECTION.smd_candidates[:1] * 40, start=1)
        ),
    )
    with pytest.raises(LayoutError, match="do not fit"):
        layout_for(crowded, BallotStyle(BallotKind.SMD, "ky", 1), election_tag=1)


def test_bad_election_tag_raises():
    with pytest.raises(StyleCodeError):
        layout_for(ELECTION, BallotStyle(BallotKind.PR, "ky"), election_tag=1 << 16)


def test_pixel_convention():
    (s, _, off), _, _ = mm_to_pixel_matrix(254)
    assert (s, off) == (10.0, -0.5)
    assert page_pixels(PR, 254) == (2100, 3300)
