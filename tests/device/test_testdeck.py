"""Logic and accuracy: the deck passes a good unit and fails a mis-calibrated one."""

from __future__ import annotations

import pytest

from device import testdeck
from device.hardware import ImageReader, IntentReader, MiscalibratedReader, image_interpreter
from device.machine import UnitConfig
from device.storage import SimStorage
from election.definition import fingerprint
from election.rules import RuleSet
from tests.device.helpers import DEC, election, unit
from tests.device.test_machine import RETURN_WITH_WARNING


@pytest.mark.parametrize("contests", [("PR",), ("SMD-20",), ("PR", "SMD-20")])
@pytest.mark.parametrize("rules", [RuleSet.kg2021(), RETURN_WITH_WARNING], ids=["accept", "warn"])
def test_deck_passes_a_good_unit(contests, rules) -> None:
    deck = testdeck.generate(election(), DEC, contests, rules)
    config = UnitConfig("deck", DEC, contests)
    result = testdeck.check(deck, unit(SimStorage(), config, rules=rules))
    assert result.passed, result.differences
    counts = [t.ballots for t in deck.expected.values()]
    assert len(set(deck.expected["PR" if "PR" in contests else "SMD-20"].votes.values())) > 3
    assert sum(counts) == result.ballots


@pytest.mark.parametrize("contests", [("PR",), ("SMD-20",)])
def test_deck_fails_a_miscalibrated_reader(contests) -> None:
    e = election()
    reader = MiscalibratedReader(IntentReader(e, DEC, fingerprint(e)), e)
    deck = testdeck.generate(e, DEC, contests, RuleSet.kg2021())
    result = testdeck.check(
        deck, unit(SimStorage(), UnitConfig("deck", DEC, contests), reader=reader)
    )
    assert not result.passed and result.differences


@pytest.mark.skipif(image_interpreter() is None, reason="reader not built yet")
def test_image_mode_deck_passes_and_miscalibrated_fails() -> None:
    e = election()
    rules = RuleSet.kg2021()
    config = UnitConfig("deck", DEC, ("SMD-20",))
    deck = testdeck.generate(e, DEC, config.contests, rules, images=True)
    good = testdeck.check(deck, unit(SimStorage(), config, reader=ImageReader(e, DEC, rules)))
    assert good.passed, good.differences
    bad_reader = MiscalibratedReader(ImageReader(e, DEC, rules), e)
    assert not testdeck.check(deck, unit(SimStorage(), config, reader=bad_reader)).passed
