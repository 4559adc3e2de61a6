"""The unit's hardware, as the firmware sees it: sheets, a reader, a paper path.

Image mode and intent mode differ only here.  A :class:`Sheet` carries a scanned image,
a ground-truth ballot record, or both; an :class:`ImageReader` reads the image with
``ballot_reader.interpret`` and an :class:`IntentReader` turns the record into the same
:class:`~ballot_reader.interpretation.Interpretation`, so everything after the reader --
verdict, handling, journal, counters -- is one firmware path.

Sources of sheets: a folder of scans (:func:`folder`), the fixtures generator
(:func:`generated`) or any stream of images (:func:`stream`).  The :class:`Feeder` is
the paper path and injects jams and double feeds.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from ballot_reader.interpretation import Interpretation, TargetReading, TargetState, Unreadable
from device.errors import DeviceError
from election.ballots import MarkedBallot
from election.errors import PcosLabError
from election.model import Election
from election.rules import RuleSet

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"})


@dataclass(frozen=True, slots=True)
class Sheet:
    """One sheet of paper entering the unit.

    ``label`` names it in the journal and the audit log (a file name or a generator
    index: a simulator's trace, which a real unit would not have).  ``election`` is the
    fingerprint an intent-mode record was printed for (None: the unit's own);
    ``marginal`` lists target ids an intent-mode reader reports as marginal.
    """

    label: str
    image: np.ndarray | None = None
    intent: MarkedBallot | None = None
    election: str | None = None
    marginal: tuple[str, ...] = ()


class Reader(Protocol):
    def read(self, sheet: Sheet) -> Interpretation: ...

    def self_test(self) -> str:
        """An empty string when the reader works, else what is wrong."""
        ...


class IntentReader:
    """Reads a sheet's ground-truth record, with the checks a real reader makes."""

    def __init__(self, election: Election, dec: int, fingerprint: str) -> None:
        self.election = election
        self.dec = dec
        self.fingerprint = fingerprint
        self.styles = frozenset(election.styles_for(dec))

    def read(self, sheet: Sheet) -> Interpretation:
        ballot = sheet.intent
        if ballot is None:
            return Interpretation(Unreadable.NOT_A_BALLOT, "no ballot record on the sheet")
        if sheet.election not in (None, self.fingerprint):
            return Interpretation(Unreadable.ELECTION_MISMATCH, f"printed for {sheet.election}")
        if ballot.dec != self.dec:
            return Interpretation(Unreadable.WRONG_DEC, f"a ballot of DEC {ballot.dec}")
        if ballot.style not in self.styles:
            return Interpretation(Unreadable.UNKNOWN_STYLE, f"style {ballot.style}")
        targets = tuple(
            TargetReading(t, 0.06, TargetState.MARGINAL, (0.0, 0.0)) for t in sheet.marginal
        )
        return Interpretation(ballot=ballot, targets=targets)

    def self_test(self) -> str:
        return ""


class ImageReader:
    """Reads scanned images with ``ballot_reader.interpret``."""

    def __init__(self, election: Election, dec: int, rules: RuleSet) -> None:
        interpret = image_interpreter()
        if interpret is None:
            raise DeviceError(
                "image mode needs ballot_reader.interpret, which this build does not have yet; "
                "use intent mode"
            )
        self._interpret = interpret
        self.election = election
        self.dec = dec
        self.rules = rules

    def read(self, sheet: Sheet) -> Interpretation:
        if sheet.image is None:
            return Interpretation(Unreadable.NOT_A_BALLOT, "no image")
        return self._interpret(sheet.image, self.election, dec=self.dec, rules=self.rules)

    def self_test(self) -> str:
        """Read a blank specimen of the DEC's first ballot style: it must come out blank."""
        style = self.election.styles_for(self.dec)[0]
        sheet = next(image_sheets(self.election, [MarkedBallot(style, self.dec)], 0, "ideal"))
        got = self.read(sheet)
        if not got.readable:
            return f"blank specimen unreadable ({got.reason}: {got.detail})"
        if got.ballot is None or got.ballot.options or got.ballot.preferences:
            return "blank specimen read with marks"
        return ""


def image_interpreter() -> Callable[..., Interpretation] | None:
    """``ballot_reader.interpret`` when this build has it (None before it lands)."""
    try:
        from ballot_reader.interpret import interpret
    except ImportError:
        return None
    return interpret


class MiscalibratedReader:
    """A reader whose target grid is registered one row off: every marked option is
    read as the next one in ballot order.  It exists to prove the test deck fails a
    badly calibrated unit."""

    def __init__(self, inner: Reader, election: Election) -> None:
        self.inner = inner
        self.election = election

    def read(self, sheet: Sheet) -> Interpretation:
        got = self.inner.read(sheet)
        if got.ballot is None:
            return got
        options = self.election.options(got.ballot.style.contest_id)
        shifted = frozenset(
            options[(options.index(o) + 1) % len(options)] for o in got.ballot.options
        )
        return replace(got, ballot=replace(got.ballot, options=shifted), verdict=None)

    def self_test(self) -> str:
        return self.inner.self_test()


# The paper path ---------------------------------------------------------------------------


class Feed(enum.StrEnum):
    OK = "ok"
    JAM = "jam"
    DOUBLE = "double_feed"


class Feeder:
    """Takes sheets in one by one; a fault is armed for the next sheet, scheduled by
    sheet number (counting every sheet the feeder has taken, from 1), or a jam comes
    every ``jam_every`` sheets."""

    def __init__(
        self, jams: Iterable[int] = (), doubles: Iterable[int] = (), jam_every: int = 0
    ) -> None:
        self.schedule = {n: Feed.JAM for n in jams} | {n: Feed.DOUBLE for n in doubles}
        self.jam_every = jam_every
        self.armed: Feed | None = None
        self.taken = 0

    def arm(self, fault: Feed) -> None:
        self.armed = fault

    def take(self) -> Feed:
        self.taken += 1
        fault = self.armed or self.schedule.get(self.taken, Feed.OK)
        if self.jam_every and self.taken % self.jam_every == 0:
            fault = Feed.JAM
        self.armed = None
        return fault


# Sources of sheets ------------------------------------------------------------------------


def folder(path: str | Path) -> Iterator[Sheet]:
    """Scanned images in a folder, in name order; a file that is not an image the
    scanner can decode arrives as a sheet without an image (returned as not a ballot)."""
    import cv2

    root = Path(path)
    if not root.is_dir():
        raise DeviceError(f"not a folder of images: {root}")
    for file in sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        yield Sheet(file.name, image=cv2.imread(str(file), cv2.IMREAD_GRAYSCALE))


def stream(frames: Iterable[np.ndarray], prefix: str = "frame") -> Iterator[Sheet]:
    """Sheets from any stream of grayscale images (a camera, a socket, a generator)."""
    for i, frame in enumerate(frames, start=1):
        yield Sheet(f"{prefix}-{i:06d}", image=frame)


def generated(
    election: Election,
    dec: int,
    contest: str | None,
    count: int,
    seed: int = 0,
    *,
    images: bool = False,
    mark_policy: str = "typical",
) -> Iterator[Sheet]:
    """``count`` ballots of the DEC's box from the fixtures' ground truth.

    When ``count`` exceeds the box, the next boxes are dealt with seed + 1, + 2, ...
    With ``images`` each ballot is also marked, rendered and scanned.
    """
    from fixtures import votes

    if count < 0:
        raise DeviceError(f"cannot generate {count} ballots")
    try:

        def box(k: int) -> Iterator[MarkedBallot]:
            return votes.ballots(votes.generate(election, seed + k), dec, contest)

        intents = list(
            itertools.islice(itertools.chain.from_iterable(map(box, itertools.count())), count)
        )
    except KeyError:
        raise DeviceError(f"election {election.id} has no DEC {dec}") from None
    except PcosLabError as exc:
        raise DeviceError(str(exc)) from None
    if not images:
        for i, ballot in enumerate(intents, start=1):
            yield Sheet(f"gen-{seed}-{i:06d}", intent=ballot)
        return
    yield from image_sheets(election, intents, seed, mark_policy)


def image_sheets(
    election: Election, intents: Iterable[MarkedBallot], seed: int, mark_policy: str
) -> Iterator[Sheet]:
    """Mark, render and scan each ballot (200 dpi, the ``typical`` scan profile)."""
    from election.layout import layout_for
    from fixtures.marks import marks_for, policy
    from fixtures.render import render
    from fixtures.scan import scan

    layouts = {}
    voters = policy(mark_policy)
    rng = np.random.default_rng([seed, 0x5CA4])
    dpi = 200
    for i, ballot in enumerate(intents, start=1):
        key = (ballot.style, ballot.dec)
        if key not in layouts:
            layouts[key] = layout_for(election, ballot.style, dec=ballot.dec)
        layout = layouts[key]
        marks = marks_for(ballot, layout, voters, rng)
        page = render(layout, ballot.style.language, dpi, marks, seed=int(rng.integers(1 << 31)))
        image = scan(page, dpi, "typical", rng).image
        yield Sheet(f"img-{seed}-{i:06d}", image=image, intent=ballot)
