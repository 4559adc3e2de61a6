"""From a scanned page to an :class:`Interpretation`: the reader's pipeline in one place.

Order matters and each step can only refuse, never guess: image → fiducials →
registration (inside the envelope?) → streaks (correct, or refuse where they cross
what must be read) → style code (this election? this DEC? a style it has?) → target
scores → states → the marked ballot and its verdict.  Anything a bad input can throw
is turned into an unreadable page with a reason; only programming errors escape.

:class:`Reader` holds what is the same for every page of one election (its tag, its
layouts, its contest specs), so a scanner pays for them once, not per sheet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ballot_reader import (
    fiducials,
    images,
    quality,
    registration,
    streaks,
    stylecode_reader,
    targets,
)
from ballot_reader.interpretation import Interpretation, TargetReading, TargetState, Unreadable
from ballot_reader.thresholds import states
from election.ballots import MarkedBallot
from election.definition import fingerprint
from election.errors import PcosLabError
from election.layout import LAYOUT_VERSION, PAGE_HEIGHT, PAGE_WIDTH, Layout, Rect, layout_for
from election.model import LANGUAGES, BallotKind, BallotStyle, Election
from election.rules import RuleSet, ValidityRules
from election.stylecode import StyleCode, election_tag
from election.validity import ContestSpec, judge

PAGE_INSET_MM = 2.0
"""Rows this far inside the page's top and bottom edges bound the streak search."""
MAX_MASKED = 0.35
"""Largest share of a box interior that masked streak columns may hide."""
BOX_SEARCH_MM = 0.4
"""Box search radius around a homography (four fiducials, or three plus the boxes found
around the affine fit): exact to ~0.05 mm, the search only absorbs print tolerances."""
AFFINE_SEARCH_MM = 2.0
"""Search radius around the affine fit of three fiducials (the style-code strip, and the
boxes' first pass): that fit is off by up to ~3.5 mm at the missing corner in the
envelope, which the strip search and the boxes' second pass take up (see :func:`_refit`)."""
FIRST_REFIT_SHARE = 0.5
"""Share of the points that must agree with the first homography of three markers and
the boxes located around the affine fit (see :func:`_refit`)."""


@dataclass(frozen=True)
class Evidence:
    """What the reader saw on the way, for the overlay and for a disputed read."""

    image: np.ndarray
    sightings: tuple[fiducials.Sighting, ...] = ()
    registration: registration.Registration | None = None
    streaks: tuple[streaks.Streak, ...] = ()
    strip: stylecode_reader.StripReading | None = None
    layout: Layout | None = None
    scores: targets.TargetScores | None = None
    quality: quality.ScanQuality | None = None


@dataclass(frozen=True)
class PageReading:
    interpretation: Interpretation
    evidence: Evidence


class _Refusal(Exception):
    """Internal: stop reading this page; ``str`` is the detail for the user."""

    def __init__(self, reason: Unreadable, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class Reader:
    """Reads pages of one election under one set of validity rules."""

    def __init__(self, election: Election, rules: RuleSet | ValidityRules | None = None) -> None:
        self.election = election
        if rules is None:
            rules = RuleSet.named(election.rules)
        self.rules = rules.validity if isinstance(rules, RuleSet) else rules
        self.tag = election_tag(fingerprint(election))
        self._layouts: dict[tuple[BallotStyle, int], Layout] = {}
        self._specs: dict[str, ContestSpec] = {}
        self.fiducials = self.layout(BallotStyle(BallotKind.PR, "ky"), 0).fiducials

    def layout(self, style: BallotStyle, dec: int) -> Layout:
        key = (style, dec)
        if key not in self._layouts:
            self._layouts[key] = layout_for(self.election, style, dec=dec, election_tag=self.tag)
        return self._layouts[key]

    def spec(self, contest: str) -> ContestSpec:
        if contest not in self._specs:
            self._specs[contest] = ContestSpec.of(self.election, contest)
        return self._specs[contest]

    def read(
        self, image: object, *, dec: int | None = None, dpi_hint: float | None = None
    ) -> PageReading:
        """Read one page; never raises for bad input (it comes back unreadable)."""
        try:
            gray = images.to_gray(image)
        except images.ImageError as exc:
            return not_an_image(str(exc))
        seen: dict = {"image": gray}
        try:
            return self._read(gray, dec, dpi_hint, seen)
        except _Refusal as refusal:
            return _refused(seen, refusal.reason, refusal)

    def _read(
        self, gray: np.ndarray, dec: int | None, dpi_hint: float | None, seen: dict
    ) -> PageReading:
        if min(gray.shape) < images.MIN_SIDE:
            raise _Refusal(Unreadable.NOT_A_BALLOT, f"image of {gray.shape[1]}×{gray.shape[0]} px")
        dpi = _hint(dpi_hint) or fiducials.guess_dpi(gray.shape)
        seen["sightings"] = sightings = fiducials.find(gray, dpi, self.fiducials)
        if not sightings:
            raise _Refusal(Unreadable.NOT_A_BALLOT, "no ballot fiducial anywhere in the image")
        reg = self._register(sightings)
        seen["registration"] = reg
        seen["streaks"] = found = streaks.find(gray, _page_rows(reg), reg.dpi)
        if any(s.correctable for s in found):
            seen["image"] = gray = streaks.corrected(gray, found)
            seen["sightings"] = sightings = fiducials.refine(gray, sightings, reg.dpi)
            seen["registration"] = reg = self._register(sightings)
        masked = [(s.x0, s.x1) for s in found if s.maskable]
        layout_any = self.layout(BallotStyle(BallotKind.PR, "ky"), 0)
        _refuse_streaks(found, reg, layout_any.code_cells, "the style code")
        try:
            strip = stylecode_reader.read(
                gray,
                reg.homography,
                layout_any.code_cells,
                0.0 if len(reg.markers) >= 4 else AFFINE_SEARCH_MM,
                masked,
                self._corner_weight(reg, _centres(layout_any.code_cells)),
            )
        except stylecode_reader.StyleCodeUnreadable as exc:
            raise _Refusal(Unreadable.STYLE_CODE_UNREADABLE, str(exc)) from None
        seen["strip"] = strip
        style = self._check_code(strip.code, dec)
        seen["layout"] = layout = self.layout(style, strip.code.dec)
        if len(reg.markers) < 4:
            affine = reg
            centres = _centres([t.box for t in layout.targets])
            weight = self._corner_weight(reg, centres)
            seeds = centres
            if weight is not None:
                seeds = centres + weight[:, None] * np.array(strip.corner_mm)
            seen["registration"] = reg = _refit(gray, reg, sightings, layout, seeds)
            if reg is affine:
                raise _Refusal(
                    Unreadable.OUTSIDE_ENVELOPE,
                    "the printed boxes do not agree with the three fiducials found: "
                    "sheet folded, skewed or not flat",
                )
        _refuse_streaks(found, reg, [t.clear for t in layout.targets], "a target")
        try:
            scores = targets.measure(
                gray,
                reg.homography,
                layout.targets,
                strip.black,
                reg.dpi,
                BOX_SEARCH_MM,
                masked,
            )
        except ValueError as exc:
            raise _Refusal(Unreadable.OUTSIDE_ENVELOPE, str(exc)) from None
        seen["scores"] = scores
        if scores.masked.max(initial=0.0) > MAX_MASKED:
            worst = layout.targets[int(np.argmax(scores.masked))].id
            raise _Refusal(
                Unreadable.STREAK,
                f"sensor streak hides {100 * scores.masked.max():.0f} % of target {worst}: "
                "clean the scanner glass",
            )
        bits = [int(v < (strip.black + strip.white) / 2) for v in strip.values]
        seen["quality"] = quality_ = quality.ScanQuality(
            quality.blur_mm(
                gray, reg.homography, layout.code_cells, bits, strip.black, strip.white
            ),
            scores.noise,
        )
        problem = quality_.problem()
        if problem:
            raise _Refusal(Unreadable.OUTSIDE_ENVELOPE, problem)
        return PageReading(
            self._interpretation(layout, style, strip.code, reg, scores), Evidence(**seen)
        )

    def _register(self, sightings: tuple[fiducials.Sighting, ...]) -> registration.Registration:
        try:
            return registration.register(sightings, self.fiducials, _PAGE_SIZE)
        except registration.RegistrationFailed as exc:
            reason = (
                Unreadable.FIDUCIALS_NOT_FOUND
                if len(sightings) < registration.MIN_FIDUCIALS
                else Unreadable.OUTSIDE_ENVELOPE
            )
            raise _Refusal(reason, str(exc)) from None

    def _corner_weight(
        self, reg: registration.Registration, points: np.ndarray
    ) -> np.ndarray | None:
        """Per page point (mm), the weight of the missing fiducial's corner (three
        markers), else None.

        An affine fit through three markers misses the sheet's perspective by an error
        that is, to first order, the missing corner's error times its bilinear weight:
        ``(x − x₀)/(x₁ − x₀) · (y − y₀)/(y₁ − y₀)``, from the opposite marker (0) to the
        missing one (1).  The strip lies on the bottom markers' row, so the weight runs
        along it from 0 to about 1 when a bottom marker is missing and is 0 for a top one.
        """
        missing = [f for f in self.fiducials if f.marker_id not in reg.markers]
        if len(missing) != 1:
            return None
        x1, y1 = missing[0].center
        x0, y0 = max(
            (f.center for f in self.fiducials),
            key=lambda c: (c[0] - x1) ** 2 + (c[1] - y1) ** 2,
        )
        return (points[:, 0] - x0) / (x1 - x0) * (points[:, 1] - y0) / (y1 - y0)

    def _check_code(self, code: StyleCode, dec: int | None) -> BallotStyle:
        """The ballot style the code names, if this election and DEC may scan it."""
        if code.election_tag != self.tag:
            raise _Refusal(
                Unreadable.ELECTION_MISMATCH,
                f"ballot of election {code.election_tag:04x}, loaded election is {self.tag:04x}",
            )
        if code.version != LAYOUT_VERSION:
            raise _Refusal(
                Unreadable.UNKNOWN_STYLE,
                f"layout version {code.version}, this reader knows {LAYOUT_VERSION}",
            )
        if dec is not None and code.dec != dec:
            what = "a specimen ballot" if code.dec == 0 else f"a ballot of DEC {code.dec}"
            raise _Refusal(Unreadable.WRONG_DEC, f"{what}, this unit serves DEC {dec}")
        style = BallotStyle(code.kind, code.language, code.district or None)
        if code.dec and not self.election.has_dec(code.dec):
            raise _Refusal(Unreadable.WRONG_DEC, f"DEC {code.dec} is not in this election")
        allowed = self.election.styles_for(code.dec) if code.dec else self._all_styles()
        if style not in allowed:
            where = f"DEC {code.dec}" if code.dec else "this election"
            raise _Refusal(
                Unreadable.UNKNOWN_STYLE,
                f"{style.contest_id} ({style.language}) is not a style of {where}",
            )
        return style

    def _all_styles(self) -> set[BallotStyle]:
        out = {BallotStyle(BallotKind.PR, lang) for lang in LANGUAGES}
        out |= {
            BallotStyle(BallotKind.SMD, lang, d.number)
            for d in self.election.districts
            for lang in LANGUAGES
        }
        return out

    def _interpretation(
        self,
        layout: Layout,
        style: BallotStyle,
        code: StyleCode,
        reg: registration.Registration,
        scores: targets.TargetScores,
    ) -> Interpretation:
        marked = states(scores.score, scores.strength, scores.ring, scores.fold)
        readings = tuple(
            TargetReading(t.id, round(s, 4), state, (x, y))
            for t, s, state, (x, y) in zip(
                layout.targets,
                np.asarray(scores.score, np.float64).tolist(),
                marked,
                np.asarray(scores.centers_px, np.float64).tolist(),
                strict=True,
            )
        )
        chosen = [
            t
            for t, state in zip(layout.targets, marked, strict=True)
            if state is TargetState.MARKED
        ]
        ballot = MarkedBallot(
            style,
            code.dec,
            frozenset(t.option for t in chosen if t.option is not None),
            frozenset(t.preference for t in chosen if t.preference is not None),
        )
        try:
            verdict = judge(ballot, self.spec(layout.contest_id), self.rules)
        except PcosLabError as exc:
            return Interpretation(
                detail=f"marks read, but the rules give no verdict: {exc}",
                ballot=ballot,
                targets=readings,
                upside_down=reg.upside_down,
            )
        return Interpretation(
            ballot=ballot, verdict=verdict, targets=readings, upside_down=reg.upside_down
        )


_PAGE_SIZE = (PAGE_WIDTH, PAGE_HEIGHT)
_READERS: dict[int, tuple[Election, object, Reader]] = {}
_MAX_READERS = 4


def reader_for(election: Election, rules: RuleSet | ValidityRules | None = None) -> Reader:
    """A cached :class:`Reader` for this election object and rules.

    Keyed by object identity (hashing a national election on every page would cost more
    than reading it); the entry holds the election itself, so its id cannot be recycled
    while cached.
    """
    entry = _READERS.get(id(election))
    if entry is not None and entry[0] is election and entry[1] == rules:
        return entry[2]
    reader = Reader(election, rules)
    if len(_READERS) >= _MAX_READERS:
        _READERS.pop(next(iter(_READERS)))
    _READERS[id(election)] = (election, rules, reader)
    return reader


def interpret(
    image: object,
    election: Election,
    *,
    dec: int | None = None,
    rules: RuleSet | ValidityRules | None = None,
    dpi_hint: float | None = None,
) -> Interpretation:
    """Read one scanned page of ``election``.

    ``image``: a numpy array (grey or colour, 8 or 16 bit; see :mod:`ballot_reader.images`).
    ``dec``: the DEC this scanner serves; a ballot of any other DEC is refused (None
    accepts every DEC of the election).  ``rules``: validity rules, default the election's.
    ``dpi_hint``: the scanner's resolution, when known; otherwise it is measured.
    Never raises for a bad image: the result is then unreadable with a reason.
    """
    return reader_for(election, rules).read(image, dec=dec, dpi_hint=dpi_hint).interpretation


def _hint(dpi_hint: float | None) -> float | None:
    if (
        isinstance(dpi_hint, int | float)
        and not isinstance(dpi_hint, bool)
        and 50 <= dpi_hint <= 1200
    ):
        return float(dpi_hint)
    return None


def _refit(
    gray: np.ndarray,
    reg: registration.Registration,
    sightings: tuple[fiducials.Sighting, ...],
    layout: Layout,
    seeds: np.ndarray,
) -> registration.Registration:
    """Three fiducials: a homography from the markers and the boxes, or ``reg`` itself
    when the boxes do not agree with the markers.

    First every box is located within ±2 mm of the affine fit, starting from ``seeds``
    (the box centres moved by the error the strip search found at the missing corner);
    boxes near the missing corner may lie further off than that, so a first homography
    needs only :data:`FIRST_REFIT_SHARE` of the points to agree.  Then every box is
    located again within :data:`BOX_SEARCH_MM` of that homography, and the homography
    fitted to those must have :data:`~ballot_reader.registration.REFIT_SHARE` agreeing:
    on a flat sheet all of them do.
    """
    centers = _centres([t.box for t in layout.targets])
    step = targets.pitch(reg.dpi)
    found = seeds + targets.locate(gray, reg.homography, seeds, step, AFFINE_SEARCH_MM)
    first = registration.refit(
        reg, sightings, layout.fiducials, centers, reg.to_pixels(found), FIRST_REFIT_SHARE
    )
    if first is reg:
        return reg
    found = centers + targets.locate(gray, first.homography, centers, step, BOX_SEARCH_MM)
    return registration.refit(reg, sightings, layout.fiducials, centers, first.to_pixels(found))


def _centres(rects: Sequence[Rect]) -> np.ndarray:
    return np.array([(r.cx, r.cy) for r in rects])


def _page_rows(reg: registration.Registration) -> tuple[int, int]:
    """Image rows on the page at every column the page covers, ``PAGE_INSET_MM`` inside."""
    w, h = _PAGE_SIZE
    ys = np.sort(reg.to_pixels(np.array([(0, 0), (w, 0), (w, h), (0, h)], np.float64))[:, 1])
    inset = PAGE_INSET_MM * reg.dpi / 25.4
    return int(np.ceil(ys[1] + inset)), int(np.floor(ys[2] - inset))


def _refuse_streaks(
    found: tuple[streaks.Streak, ...], reg: registration.Registration, rects: list[Rect], what: str
) -> None:
    """Refuse the page when a streak that cannot be masked runs through any of ``rects``."""
    bad = [s for s in found if not s.maskable]
    if not bad:
        return
    corners = np.array([[(r.x0, r.y0), (r.x1, r.y0), (r.x1, r.y1), (r.x0, r.y1)] for r in rects])
    xs = reg.to_pixels(corners.reshape(-1, 2))[:, 0].reshape(len(rects), 4)
    lo, hi = xs.min(axis=1), xs.max(axis=1)
    for s in bad:
        if np.any((lo <= s.x1) & (hi >= s.x0 - 1)):
            kind = "light" if s.light else "dark"
            raise _Refusal(
                Unreadable.STREAK,
                f"{kind} sensor streak at image columns {s.x0}..{s.x1 - 1} "
                f"(strength {s.strength:.2f}) crosses {what}: clean the scanner glass",
            )


def not_an_image(detail: str) -> PageReading:
    """The reading of a file that did not decode to an image: not a ballot."""
    return _refused({"image": np.zeros((1, 1), np.uint8)}, Unreadable.NOT_A_BALLOT, detail)


def _refused(seen: dict, reason: Unreadable, detail: object) -> PageReading:
    return PageReading(Interpretation(reason=reason, detail=str(detail)), Evidence(**seen))
