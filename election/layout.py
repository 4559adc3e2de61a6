"""Ballot geometry in millimetres: where everything is printed, and where a reader looks.

One :class:`Layout` describes a ballot style for one DEC: the page, the four ArUco
fiducials that register a scan, the style-code strip, the printed text in both languages
(Kyrgyz and Russian share one geometry, so a reader needs no language to find a target)
and the targets with stable ids.  It lives in ``election`` rather than ``fixtures``
because the printer (the fixtures renderer) and the scanner's reader must agree on it
to the tenth of a millimetre, and the reader may not import fixtures.

Pixel convention, for every image made from a layout: at ``dpi`` dots per inch the
centre of pixel column ``u`` lies at ``(u + 0.5) * 25.4 / dpi`` mm (OpenCV's integer
pixel centres), see :func:`mm_to_pixel_matrix`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from functools import cached_property

from election.definition import fingerprint
from election.errors import PcosLabError
from election.model import (
    AGAINST_ALL,
    LANGUAGES,
    PR_CONTEST_ID,
    BallotKind,
    BallotStyle,
    Election,
)
from election.rules import RuleSet
from election.stylecode import CELL_COUNT, StyleCode
from election.stylecode import election_tag as tag_of

LAYOUT_VERSION = 1
"""Printed in the style code; bump it whenever any coordinate below changes."""

PAGE_WIDTH = 210.0
PAGE_HEIGHT = 330.0

ARUCO_DICTIONARY = "DICT_4X4_50"
"""OpenCV's ``cv2.aruco`` predefined dictionary the fiducials come from."""
FIDUCIAL_IDS = {"TL": 0, "TR": 1, "BR": 2, "BL": 3}
"""ArUco id per page corner: any one detected marker tells the page's orientation."""
FIDUCIAL_SIZE = 10.0
FIDUCIAL_INSET = 7.0
"""Page edge to marker edge: scanner edges are noisy and paper corners get dog-eared."""
FIDUCIAL_QUIET = 3.0
"""Blank paper around each marker (more than one 1.67 mm marker cell)."""

BOX_WIDTH = 6.0
BOX_HEIGHT = 5.0
BOX_LINE = 0.3
CLEAR_X = 1.8
CLEAR_Y = 1.5
"""Blank paper guaranteed around each box, so a reader can measure the local paper level."""

CODE_CELL_WIDTH = 2.5
CODE_CELL_HEIGHT = 4.0

_LEFT = 15.0
_RIGHT = PAGE_WIDTH - 15.0
_HEADER_LEFT = FIDUCIAL_INSET + FIDUCIAL_SIZE + FIDUCIAL_QUIET + 2.0
_BOX_CX = 183.0
_NUMBER_RIGHT = 24.0
_NAME_LEFT = 27.0
_NAME_RIGHT = 174.0
_RULE_RIGHT = 175.0
"""Row separators stop short of the boxes' clear zones (x from 178.2 mm)."""
_PR_PITCH = (8.0, 10.0)
_SMD_PITCH = (10.0, 13.0)
_GRID_COLUMNS = 11
_GRID_CELL = 15.5
_GRID_PITCH = 9.0
_GRID_LABEL = 5.5
_CODE_BAND = 30.0
"""Height kept free above the bottom page edge for the code strip and its legend."""


class LayoutError(PcosLabError):
    """A ballot that cannot be laid out: unknown district or DEC, or too many options."""

    code = "layout"


Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Rect:
    """An axis-aligned rectangle given by its centre and size, in mm."""

    cx: float
    cy: float
    w: float
    h: float

    @classmethod
    def from_edges(cls, x0: float, y0: float, x1: float, y1: float) -> Rect:
        return cls((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0)

    @property
    def x0(self) -> float:
        return self.cx - self.w / 2

    @property
    def x1(self) -> float:
        return self.cx + self.w / 2

    @property
    def y0(self) -> float:
        return self.cy - self.h / 2

    @property
    def y1(self) -> float:
        return self.cy + self.h / 2

    def expanded(self, dx: float, dy: float | None = None) -> Rect:
        return Rect(self.cx, self.cy, self.w + 2 * dx, self.h + 2 * (dx if dy is None else dy))

    def overlaps(self, other: Rect) -> bool:
        """True when the interiors intersect (touching edges do not count)."""
        return (
            self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and other.y0 < self.y1
        )

    def contains(self, other: Rect) -> bool:
        return (
            self.x0 <= other.x0
            and other.x1 <= self.x1
            and self.y0 <= other.y0
            and other.y1 <= self.y1
        )


@dataclass(frozen=True, slots=True)
class Fiducial:
    """An ArUco marker; ``corners`` are in the order cv2.aruco reports them (marker TL,
    TR, BR, BL as printed upright), so detected corners pair with them directly."""

    position: str
    marker_id: int
    center: Point
    size: float
    corners: tuple[Point, Point, Point, Point]
    quiet: Rect


@dataclass(frozen=True, slots=True)
class TextItem:
    """A line of text fitted into ``rect``: ``size`` is the em height in mm, shrunk by the
    renderer when the text would not fit; ``texts`` follow :data:`election.model.LANGUAGES`."""

    rect: Rect
    size: float
    texts: tuple[str, ...]
    align: str = "left"
    bold: bool = False

    def text(self, language: str) -> str:
        return self.texts[_language_index(language)]


@dataclass(frozen=True, slots=True)
class Rule:
    """A printed straight line (row separators, header rule), ``width`` in mm."""

    start: Point
    end: Point
    width: float = 0.2


@dataclass(frozen=True, slots=True)
class Target:
    """A box a voter marks: exactly one of ``option`` and ``preference`` is set.

    ``clear`` is the box plus the blank paper around it that nothing else is printed on.
    """

    id: str
    contest: str
    option: str | None
    preference: int | None
    box: Rect
    clear: Rect


@dataclass(frozen=True)
class Layout:
    """The geometry of one ballot style as printed for one DEC (``dec`` 0: a specimen)."""

    version: int
    kind: BallotKind
    contest_id: str
    district: int
    dec: int
    election_tag: int
    width: float
    height: float
    fiducials: tuple[Fiducial, ...]
    code_cells: tuple[Rect, ...]
    texts: tuple[TextItem, ...]
    rules: tuple[Rule, ...]
    targets: tuple[Target, ...]

    def style_code(self, language: str) -> StyleCode:
        """The code printed on this layout in ``language``."""
        _language_index(language)
        return StyleCode(
            election_tag=self.election_tag,
            kind=self.kind,
            district=self.district,
            dec=self.dec,
            language=language,
            version=self.version,
        )

    @property
    def page(self) -> Rect:
        return Rect.from_edges(0.0, 0.0, self.width, self.height)

    @property
    def code_region(self) -> Rect:
        """The strip and its quiet margin; a reader checks this area for a style code."""
        first, last = self.code_cells[0], self.code_cells[-1]
        return Rect.from_edges(first.x0, first.y0, last.x1, last.y1).expanded(CODE_CELL_WIDTH)

    @cached_property
    def _targets_by_id(self) -> dict[str, Target]:
        return {t.id: t for t in self.targets}

    def target(self, target_id: str) -> Target:
        try:
            return self._targets_by_id[target_id]
        except KeyError:
            raise LayoutError(f"no target {target_id!r} on this {self.contest_id} ballot") from None

    def option_target(self, option: str) -> Target:
        return self.target(option_target_id(self.contest_id, option))

    def preference_target(self, number: int) -> Target:
        return self.target(preference_target_id(number))


def option_target_id(contest_id: str, option: str) -> str:
    return f"{contest_id}/{option}"


def preference_target_id(number: int) -> str:
    return f"{PR_CONTEST_ID}/N{number:02d}"


def mm_to_pixel_matrix(dpi: float) -> tuple[tuple[float, float, float], ...]:
    """3×3 matrix from page mm to image pixels (OpenCV coordinates) at ``dpi``."""
    s = dpi / 25.4
    return ((s, 0.0, -0.5), (0.0, s, -0.5), (0.0, 0.0, 1.0))


def page_pixels(layout: Layout, dpi: float) -> tuple[int, int]:
    """Image size (width, height) in pixels of the page at ``dpi``."""
    s = dpi / 25.4
    return round(layout.width * s), round(layout.height * s)


# Text ------------------------------------------------------------------------------------

_LABELS: dict[str, tuple[str, str]] = {
    "title": ("ШАЙЛОО БЮЛЛЕТЕНИ", "ИЗБИРАТЕЛЬНЫЙ БЮЛЛЕТЕНЬ"),
    "election": (
        "Кыргыз Республикасынын Жогорку Кеңешинин депутаттарын шайлоо",
        "Выборы депутатов Жогорку Кенеша Кыргызской Республики",
    ),
    "pr_contest": (
        "Бирдиктүү шайлоо округу боюнча саясий партиялардын тизмелери",
        "Списки политических партий по единому избирательному округу",
    ),
    "smd_contest": (
        "№ {n} «{name}» бир мандаттуу шайлоо округу",
        "Одномандатный избирательный округ № {n} «{name}»",
    ),
    "dec": ("№ {n} участкалык шайлоо комиссиясы", "Участковая избирательная комиссия № {n}"),
    "specimen": ("ҮЛГҮ — шайлоо участкасына берилбейт", "ОБРАЗЕЦ — на участок не выдаётся"),
    "howto": (
        "Тандаган вариантыңыздын оң жагындагы төрт бурчтукту толугу менен боёңуз.",
        "Полностью закрасьте квадрат справа от выбранного варианта.",
    ),
    "pr_invalid": (
        "1-бөлүктө бирден ашык белги коюлган бюллетень жараксыз деп эсептелет.",
        "Бюллетень с более чем одной отметкой в части 1 считается недействительным.",
    ),
    "smd_invalid": (
        "Бирден ашык белги коюлган бюллетень жараксыз деп эсептелет.",
        "Бюллетень с более чем одной отметкой считается недействительным.",
    ),
    "part1": (
        "1-бөлүк. Бир гана саясий партияны белгилеңиз",
        "Часть 1. Отметьте только одну политическую партию",
    ),
    "part2": (
        "2-бөлүк. Тандаган партияңыздын тизмесинен бир талапкердин номерин белгилеңиз",
        "Часть 2. Отметьте номер одного кандидата из списка выбранной партии",
    ),
    "part2_note": (
        "Номер белгиленбесе, добуш тизмедеги биринчи талапкерге эсептелет.",
        "Если номер не отмечен, голос засчитывается первому кандидату списка.",
    ),
    "smd_heading": ("Бир гана талапкерди белгилеңиз", "Отметьте только одного кандидата"),
    "against_all": ("Баарына каршы", "Против всех"),
    "self": ("өзүн-өзү көрсөткөн", "самовыдвижение"),
    "nominated": ("«{party}» саясий партиясы көрсөткөн", "выдвинут(а) партией «{party}»"),
    "code": (
        "Машина окуучу код: {kind} · округ {district} · УШК {dec} · {lang} · v{version} · {tag}",
        "Машиночитаемый код: {kind} · округ {district} · УИК {dec} · {lang} · v{version} · {tag}",
    ),
}

_MONTHS_KY = [
    "январы",
    "февралы",
    "марты",
    "апрели",
    "майы",
    "июну",
    "июлу",
    "августу",
    "сентябры",
    "октябры",
    "ноябры",
    "декабры",
]
_MONTHS_RU = [
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
]


def _language_index(language: str) -> int:
    try:
        return LANGUAGES.index(language)
    except ValueError:
        raise LayoutError(
            f"unknown ballot language {language!r}; expected one of {', '.join(LANGUAGES)}"
        ) from None


def _label(key: str, **values: object) -> tuple[str, ...]:
    return tuple(text.format(**values) for text in _LABELS[key])


def _dates(iso: str) -> tuple[str, str]:
    try:
        day = dt.date.fromisoformat(iso)
    except ValueError:
        return (iso, iso)
    return (
        f"{day.year}-жылдын {day.day}-{_MONTHS_KY[day.month - 1]}",
        f"{day.day} {_MONTHS_RU[day.month - 1]} {day.year} года",
    )


def _same(text: str) -> tuple[str, ...]:
    return (text,) * len(LANGUAGES)


def _line(cy: float, size: float, texts: tuple[str, ...], **kw: object) -> TextItem:
    rect = Rect.from_edges(
        _HEADER_LEFT, cy - size * 0.7, PAGE_WIDTH - _HEADER_LEFT, cy + size * 0.7
    )
    return TextItem(rect, size, texts, **kw)


# Geometry --------------------------------------------------------------------------------


def _fiducials(width: float, height: float) -> tuple[Fiducial, ...]:
    half = FIDUCIAL_SIZE / 2
    near, far_x, far_y = (
        FIDUCIAL_INSET + half,
        width - FIDUCIAL_INSET - half,
        height - FIDUCIAL_INSET - half,
    )
    centers = {"TL": (near, near), "TR": (far_x, near), "BR": (far_x, far_y), "BL": (near, far_y)}
    out = []
    for position, (cx, cy) in centers.items():
        corners = (
            (cx - half, cy - half),
            (cx + half, cy - half),
            (cx + half, cy + half),
            (cx - half, cy + half),
        )
        quiet = Rect(cx, cy, FIDUCIAL_SIZE, FIDUCIAL_SIZE).expanded(FIDUCIAL_QUIET)
        out.append(
            Fiducial(position, FIDUCIAL_IDS[position], (cx, cy), FIDUCIAL_SIZE, corners, quiet)
        )
    return tuple(out)


def _code_cells(width: float, height: float) -> tuple[Rect, ...]:
    cy = height - FIDUCIAL_INSET - FIDUCIAL_SIZE / 2
    x0 = (width - CELL_COUNT * CODE_CELL_WIDTH) / 2
    return tuple(
        Rect(x0 + (i + 0.5) * CODE_CELL_WIDTH, cy, CODE_CELL_WIDTH, CODE_CELL_HEIGHT)
        for i in range(CELL_COUNT)
    )


def _target(
    contest: str, option: str | None, preference: int | None, cx: float, cy: float
) -> Target:
    box = Rect(cx, cy, BOX_WIDTH, BOX_HEIGHT)
    target_id = (
        option_target_id(contest, option)
        if option is not None
        else preference_target_id(preference)
    )
    return Target(target_id, contest, option, preference, box, box.expanded(CLEAR_X, CLEAR_Y))


def _pitch(rows: int, space: float, bounds: tuple[float, float], what: str) -> float:
    low, high = bounds
    pitch = min(high, space / rows)
    if pitch < low:
        fits = math.floor(space / low)
        raise LayoutError(f"{rows} {what} do not fit on one ballot page (at most {fits})")
    return pitch


@dataclass
class _Sheet:
    """Accumulates printed items while the body is laid out top to bottom."""

    texts: list[TextItem]
    rules: list[Rule]
    targets: list[Target]

    def option_row(
        self,
        contest: str,
        option: str,
        top: float,
        pitch: float,
        number: str,
        lines: list[tuple[tuple[str, ...], float, bool]],
    ) -> None:
        """A row: number, one or two text lines, a separator and the box on the right."""
        cy = top + pitch / 2
        if number:
            rect = Rect.from_edges(_LEFT, cy - 2.5, _NUMBER_RIGHT, cy + 2.5)
            self.texts.append(TextItem(rect, 3.6, _same(number), align="right", bold=True))
        offsets = (0.0,) if len(lines) == 1 else (-1.9, 2.5)
        for (texts, size, bold), dy in zip(lines, offsets, strict=True):
            rect = Rect.from_edges(
                _NAME_LEFT, cy + dy - size * 0.7, _NAME_RIGHT, cy + dy + size * 0.7
            )
            self.texts.append(TextItem(rect, size, texts, bold=bold))
        self.rules.append(Rule((_LEFT, top + pitch), (_RULE_RIGHT, top + pitch)))
        self.targets.append(_target(contest, option, None, _BOX_CX, cy))


def _header(election: Election, style: BallotStyle, dec: int, sheet: _Sheet) -> float:
    """Title block; returns the y where the body starts."""
    if style.kind is BallotKind.PR:
        contest = _label("pr_contest")
        invalid = _label("pr_invalid")
    else:
        district = election.district(style.district)
        contest = _label("smd_contest", n=district.number, name=district.name)
        invalid = _label("smd_invalid")
    station = _label("dec", n=dec) if dec else _label("specimen")
    sheet.texts += [
        _line(9.5, 5.0, _label("title"), align="center", bold=True),
        _line(15.5, 3.4, _label("election"), align="center"),
        _line(20.0, 3.4, _dates(election.date), align="center"),
        _line(25.0, 3.4, contest, align="center", bold=True),
        _line(29.5, 3.2, station, align="center"),
        _line(34.0, 2.8, _label("howto"), align="center"),
        _line(38.0, 2.8, invalid, align="center"),
    ]
    sheet.rules.append(Rule((_LEFT, 41.0), (_RIGHT, 41.0), 0.35))
    return 41.0


def _heading(y: float, texts: tuple[str, ...], size: float = 3.8, bold: bool = True) -> TextItem:
    return TextItem(
        Rect.from_edges(_LEFT, y - size * 0.7, _RIGHT, y + size * 0.7), size, texts, bold=bold
    )


def _pr_body(election: Election, top: float, bottom: float, sheet: _Sheet) -> None:
    parties = election.parties_in_ballot_order
    # Every PR ballot prints the rule's full grid (54 in kg2021), whatever the lists'
    # lengths: a voter can mark any printed number, and the reader must see it.
    numbers = RuleSet.named(election.rules).validity.preference_boxes
    grid_rows = math.ceil(numbers / _GRID_COLUMNS)
    part2_height = 12.0 + grid_rows * _GRID_PITCH
    sheet.texts.append(_heading(top + 4.0, _label("part1")))
    rows_top = top + 8.5
    pitch = _pitch(
        len(parties) + 1, bottom - part2_height - rows_top - 3.0, _PR_PITCH, "PR options"
    )
    for i, party in enumerate(parties):
        line = (_same(party.name), 3.6, False)
        sheet.option_row(
            PR_CONTEST_ID,
            party.id,
            rows_top + i * pitch,
            pitch,
            f"{party.ballot_position}.",
            [line],
        )
    line = (_label("against_all"), 3.6, True)
    sheet.option_row(PR_CONTEST_ID, AGAINST_ALL, rows_top + len(parties) * pitch, pitch, "", [line])

    y = rows_top + (len(parties) + 1) * pitch + 3.0
    sheet.texts += [
        _heading(y + 3.5, _label("part2")),
        _heading(y + 8.0, _label("part2_note"), 2.8, False),
    ]
    grid_top = y + 12.0
    x_start = (PAGE_WIDTH - _GRID_COLUMNS * _GRID_CELL) / 2
    for n in range(1, numbers + 1):
        row, col = divmod(n - 1, _GRID_COLUMNS)
        x0 = x_start + col * _GRID_CELL
        cy = grid_top + (row + 0.5) * _GRID_PITCH
        label = Rect.from_edges(x0 + 0.2, cy - 2.2, x0 + _GRID_LABEL, cy + 2.2)
        sheet.texts.append(TextItem(label, 3.4, _same(str(n)), align="right", bold=True))
        box_cx = x0 + _GRID_LABEL + CLEAR_X + BOX_WIDTH / 2
        sheet.targets.append(_target(PR_CONTEST_ID, None, n, box_cx, cy))


def _smd_body(election: Election, district: int, top: float, bottom: float, sheet: _Sheet) -> None:
    contest = election.district(district).contest_id
    candidates = election.candidates_in(district)
    sheet.texts.append(_heading(top + 4.0, _label("smd_heading")))
    rows_top = top + 8.5
    pitch = _pitch(len(candidates) + 1, bottom - rows_top, _SMD_PITCH, "SMD options")
    for i, cand in enumerate(candidates):
        if cand.nominated_by is None:
            nominator = _label("self")
        else:
            nominator = _label("nominated", party=election.party(cand.nominated_by).name)
        lines = [(_same(cand.name), 3.6, True), (nominator, 2.7, False)]
        sheet.option_row(
            contest, cand.id, rows_top + i * pitch, pitch, f"{cand.ballot_position}.", lines
        )
    line = (_label("against_all"), 3.6, True)
    sheet.option_row(contest, AGAINST_ALL, rows_top + len(candidates) * pitch, pitch, "", [line])


def _code_legend(style: BallotStyle, dec: int, tag: int, cells: tuple[Rect, ...]) -> TextItem:
    district = f"{style.district:02d}" if style.kind is BallotKind.SMD else "—"
    texts = tuple(
        template.format(
            kind=style.kind,
            district=district,
            dec=dec,
            lang=lang,
            version=LAYOUT_VERSION,
            tag=f"{tag:04x}",
        )
        for template, lang in zip(_LABELS["code"], LANGUAGES, strict=True)
    )
    cy = cells[0].y0 - 4.0
    return TextItem(
        Rect.from_edges(cells[0].x0, cy - 1.5, cells[-1].x1, cy + 1.5), 2.2, texts, align="center"
    )


def _check_style(election: Election, style: BallotStyle, dec: int) -> None:
    _language_index(style.language)
    if style.kind is BallotKind.PR and style.district is not None:
        raise LayoutError("a PR ballot style has no district")
    if style.kind is BallotKind.SMD and style.district not in {
        d.number for d in election.districts
    }:
        raise LayoutError(f"no district {style.district!r} in election {election.id}")
    if dec == 0:
        return
    if not election.has_dec(dec):
        raise LayoutError(f"no DEC {dec} in election {election.id}")
    station = election.dec(dec)
    if style.kind not in station.ballot_kinds:
        raise LayoutError(f"DEC {dec} is abroad and issues the PR ballot only")
    if style.kind is BallotKind.SMD and station.district != style.district:
        raise LayoutError(f"DEC {dec} is in district {station.district}, not {style.district}")


def layout_for(
    election: Election, style: BallotStyle, *, dec: int = 0, election_tag: int | None = None
) -> Layout:
    """The layout of ``style`` as issued to DEC ``dec`` (0: a specimen no DEC accepts).

    ``election_tag`` defaults to the tag of the election's fingerprint, which hashes the
    whole definition (about 30 ms for the national one): callers laying out many ballots
    compute it once and pass it.  The style's language does not change the geometry:
    one layout serves both languages.
    """
    _check_style(election, style, dec)
    if election_tag is None:
        election_tag = tag_of(fingerprint(election))
    sheet = _Sheet([], [], [])
    top = _header(election, style, dec, sheet)
    cells = _code_cells(PAGE_WIDTH, PAGE_HEIGHT)
    bottom = PAGE_HEIGHT - _CODE_BAND
    if style.kind is BallotKind.PR:
        _pr_body(election, top, bottom, sheet)
    else:
        _smd_body(election, style.district, top, bottom, sheet)
    sheet.texts.append(_code_legend(style, dec, election_tag, cells))
    layout = Layout(
        version=LAYOUT_VERSION,
        kind=style.kind,
        contest_id=style.contest_id,
        district=style.district or 0,
        dec=dec,
        election_tag=election_tag,
        width=PAGE_WIDTH,
        height=PAGE_HEIGHT,
        fiducials=_fiducials(PAGE_WIDTH, PAGE_HEIGHT),
        code_cells=cells,
        texts=tuple(sheet.texts),
        rules=tuple(sheet.rules),
        targets=tuple(sheet.targets),
    )
    layout.style_code(style.language)  # range-checks dec, district and tag now, not at print
    return layout
