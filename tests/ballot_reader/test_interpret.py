"""Reading scanned pages: registration, orientation, style code, refusals, verdicts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ballot_reader.interpret import interpret, reader_for
from ballot_reader.interpretation import TargetState, Unreadable
from election.layout import layout_for
from election.model import AGAINST_ALL, BallotKind
from election.validity import Preference, VerdictKind
from fixtures.marks import MarkSpec
from fixtures.render import render
from fixtures.scan import PROFILES, Rotation, Streak, scan
from tests.ballot_reader.pages import HOME_DEC, layout, national, scanned, style


def _marks(kind, *target_ids, mark="fill"):
    return [MarkSpec(mark, t) for t in target_ids]


def test_pr_vote_with_preference_is_read_with_its_verdict():
    party = national().parties_in_ballot_order[2].id
    page = scanned(BallotKind.PR, _marks(BallotKind.PR, f"PR/{party}", "PR/N07"))
    reading = interpret(page.image, national(), dec=HOME_DEC)
    assert reading.readable, reading.detail
    assert reading.ballot.options == {party} and reading.ballot.preferences == {7}
    assert reading.ballot.style == style(BallotKind.PR) and reading.ballot.dec == HOME_DEC
    assert reading.verdict.kind is VerdictKind.VOTE and reading.verdict.option == party
    assert reading.verdict.preference is Preference.PREFERENCE
    assert reading.marginal == ()
    assert len(reading.targets) == len(layout(BallotKind.PR).targets)


def test_target_centres_are_where_the_scan_put_them():
    page = scanned(BallotKind.PR, [], profile="envelope", seed=3)
    reading = interpret(page.image, national())
    truth = page.to_pixels(np.array([(t.box.cx, t.box.cy) for t in layout(BallotKind.PR).targets]))
    got = np.array([t.center_px for t in reading.targets])
    assert np.abs(got - truth).max() < 0.5 * 200 / 25.4  # half a millimetre


@pytest.mark.parametrize("seed", range(4))
def test_upside_down_feed_is_read_and_reported(seed):
    prof = PROFILES["typical"].replaced(
        *(d for d in PROFILES["typical"].distortions if type(d).__name__ == "UpsideDown"),
    )
    lay = layout(BallotKind.SMD)
    chosen = lay.targets[1].id
    page = render(lay, "ru", 200, _marks(BallotKind.SMD, chosen), seed=seed)
    s = scan(page, 200, prof, np.random.default_rng(seed))
    reading = interpret(s.image, national())
    assert reading.readable and reading.upside_down == s.upside_down
    assert reading.ballot.options == {lay.targets[1].option}
    assert reading.ballot.style.language == "ru"


@pytest.mark.parametrize("position", ["TL", "TR", "BR", "BL"])
def test_any_three_fiducials_suffice(position):
    chosen = f"PR/{AGAINST_ALL}"
    page = scanned(BallotKind.PR, _marks(BallotKind.PR, chosen, "PR/N54"), cover=position, seed=5)
    reading = interpret(page.image, national())
    assert reading.readable, reading.detail
    assert reading.ballot.options == {AGAINST_ALL} and reading.ballot.preferences == {54}
    assert reading.marginal == ()


def test_two_fiducials_are_not_enough():
    lay = layout(BallotKind.SMD)
    page = render(lay, "ky", 150).copy()
    for fid in lay.fiducials[:2]:
        q, s = fid.quiet, 150 / 25.4
        page[round(q.y0 * s) : round(q.y1 * s), round(q.x0 * s) : round(q.x1 * s)] = 255
    reading = interpret(page, national())
    assert reading.reason is Unreadable.FIDUCIALS_NOT_FOUND
    assert "2 of 4" in reading.detail


def test_a_ballot_of_another_dec_is_refused():
    other = next(d.number for d in national().decs if d.number != HOME_DEC and not d.abroad)
    page = scanned(BallotKind.PR, [])
    assert interpret(page.image, national(), dec=HOME_DEC).readable
    reading = interpret(page.image, national(), dec=other)
    assert reading.reason is Unreadable.WRONG_DEC and str(HOME_DEC) in reading.detail


def test_a_specimen_is_refused_by_a_dec():
    page = render(layout_for(national(), style(BallotKind.PR), dec=0), "ky", 150)
    assert interpret(page, national(), dec=HOME_DEC).reason is Unreadable.WRONG_DEC


def test_a_ballot_of_another_election_is_refused():
    tag = reader_for(national()).tag
    lay = layout_for(national(), style(BallotKind.PR), dec=HOME_DEC, election_tag=tag ^ 0x5A5A)
    reading = interpret(render(lay, "ky", 150), national())
    assert reading.reason is Unreadable.ELECTION_MISMATCH


def test_a_smudged_style_code_is_unreadable_not_guessed():
    lay = layout(BallotKind.SMD)
    page = render(lay, "ky", 200).copy()
    cell, s = lay.code_cells[20], 200 / 25.4
    page[round(cell.y0 * s) : round(cell.y1 * s), round(cell.x0 * s) : round(cell.x1 * s)] = 128
    reading = interpret(page, national())
    assert reading.reason is Unreadable.STYLE_CODE_UNREADABLE


def test_outside_the_envelope_is_refused_with_a_reason():
    lay = layout(BallotKind.SMD)
    page = render(lay, "ky", 200)
    tilted = dataclasses.replace(
        PROFILES["clean"].replaced(Rotation((14.0, 14.0)), name="tilted"), margin_mm=40.0
    )
    s = scan(page, 200, tilted, np.random.default_rng(0))
    reading = interpret(s.image, national())
    assert reading.reason is Unreadable.OUTSIDE_ENVELOPE and "tilted" in reading.detail


def test_an_uncorrectable_streak_through_the_targets_is_refused():
    lay = layout(BallotKind.PR)
    page = render(lay, "ky", 200)
    x_mm = lay.targets[0].box.cx
    black = PROFILES["clean"].replaced(Streak(1, (0.3, 0.3), (0.97, 0.97)), name="streak")
    s = scan(page, 200, black, np.random.default_rng(0))
    # Move the streak onto the target column: the clean scan has no geometric change.
    x = round(s.to_pixels(np.array([(x_mm, 100.0)]))[0, 0])
    image = s.image.copy()
    image[:, x : x + 3] = (image[:, x : x + 3] * 0.03).astype(np.uint8)
    reading = interpret(image, national())
    assert reading.reason is Unreadable.STREAK


def test_a_correctable_streak_through_a_blank_target_leaves_it_blank():
    lay = layout(BallotKind.PR)
    page = render(lay, "ky", 200, _marks(BallotKind.PR, "PR/N10"))
    s = scan(page, 200, "clean", np.random.default_rng(0))
    x = round(s.to_pixels(np.array([(lay.targets[0].box.cx, 100.0)]))[0, 0])
    image = s.image.copy()
    image[:, x : x + 3] = (image[:, x : x + 3] * 0.3).astype(np.uint8)
    reading = interpret(image, national())
    assert reading.readable and reading.marginal == ()
    assert reading.ballot.options == frozenset() and reading.ballot.preferences == {10}


def test_stray_marks_are_ignored_and_erasures_never_count():
    lay = layout(BallotKind.SMD)
    chosen, erased = lay.targets[0], lay.targets[2]
    marks = [
        MarkSpec("cross", chosen.id, 0.9, 0.9),
        MarkSpec("erased", erased.id, 1.0, 0.9),
        MarkSpec("stray-line", fill=0.6),
        MarkSpec("stray-dot", fill=0.5),
    ]
    for seed in range(3):
        reading = interpret(scanned(BallotKind.SMD, marks, seed=seed).image, national())
        assert reading.ballot.options == {chosen.option}
        states = {t.target: t.state for t in reading.targets}
        assert states[erased.id] is not TargetState.MARKED


def test_overvote_and_blank_verdicts():
    lay = layout(BallotKind.SMD)
    two = scanned(BallotKind.SMD, _marks(BallotKind.SMD, lay.targets[0].id, lay.targets[1].id))
    assert interpret(two.image, national()).verdict.kind is VerdictKind.OVERVOTE
    blank = scanned(BallotKind.SMD, [])
    assert interpret(blank.image, national()).verdict.kind is VerdictKind.BLANK


def test_interpret_never_raises_on_odd_arguments():
    page = scanned(BallotKind.SMD, [], dpi=150).image
    for hint in (None, 0, -5, 1e9, float("nan"), True, "200", 150):
        assert interpret(page, national(), dpi_hint=hint).readable


@pytest.mark.parametrize("shape", [(64, 64), (1, 1), (64, 64, 3), (40, 900)])
def test_a_tiny_or_odd_image_without_a_dpi_hint_is_refused_not_raised(shape):
    reading = interpret(np.full(shape, 255, dtype=np.uint8), national())
    assert not reading.readable and reading.reason
