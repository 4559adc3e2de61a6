"""The ballot style code: which election, contest, DEC and language a page belongs to.

A scanner must refuse a page of another election or DEC before it counts a single mark,
so every ballot carries its identity as a one-row strip of black and white cells printed
between the bottom fiducials (geometry in :mod:`election.layout`).  A strip rather than a
QR code because the reader already knows, from the fiducial homography, where every cell
centre is: it samples 65 points instead of running a 2-D symbol decoder, which is both
faster and has no failure mode of its own (see docs/ballots.md).

Bit format (version 1), most significant bit first within each field::

    start guard 1101 | version 4 | election tag 16 | kind 1 | language 1 |
    district 6 | DEC 14 | CRC-16 16 | stop guard 101

The CRC is CRC-16/CCITT-FALSE (polynomial 0x1021, initial value 0xFFFF, no reflection, no
final XOR) computed bit by bit over the 42 data bits.  Its polynomial has the factor
(x + 1), so every odd number of flipped bits is detected, as are every double flip and
every burst up to 16 bits inside the 58-bit word: a misread is reported, never believed.
The guards are asymmetric, so a strip sampled back to front fails on its guards as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from election.errors import PcosLabError
from election.model import LANGUAGES, BallotKind

START_GUARD = (1, 1, 0, 1)
STOP_GUARD = (1, 0, 1)

FIELDS = (
    ("version", 4),
    ("election_tag", 16),
    ("kind", 1),
    ("language", 1),
    ("district", 6),
    ("dec", 14),
)
"""Data fields in transmission order with their widths in bits."""

DATA_BITS = sum(width for _, width in FIELDS)
CRC_BITS = 16
CODE_BITS = DATA_BITS + CRC_BITS
CELL_COUNT = len(START_GUARD) + CODE_BITS + len(STOP_GUARD)

_KINDS = (BallotKind.PR, BallotKind.SMD)
_CRC_POLY = 0x1021
_CRC_INIT = 0xFFFF


class StyleCodeError(PcosLabError):
    """A style code that cannot be built or read: out-of-range field, bad guard, bad length."""

    code = "style-code"


class StyleCodeCrcError(StyleCodeError):
    """The cells were read but their CRC does not match: a misread, not a ballot."""

    code = "style-code-crc"


@dataclass(frozen=True, slots=True)
class StyleCode:
    """The decoded identity of a printed ballot.

    ``district`` is 0 on the PR ballot; ``dec`` is the DEC the ballot was issued to (0 for
    a specimen that no DEC accepts); ``election_tag`` is :func:`election_tag` of the
    election definition's fingerprint.
    """

    election_tag: int
    kind: BallotKind
    district: int
    dec: int
    language: str
    version: int

    def __post_init__(self) -> None:
        widths = dict(FIELDS)
        for name in ("version", "election_tag", "district", "dec"):
            value = getattr(self, name)
            limit = (1 << widths[name]) - 1
            if not isinstance(value, int) or not 0 <= value <= limit:
                raise StyleCodeError(
                    f"style code {name} must be an integer 0..{limit}, got {value!r}"
                )
        if self.kind not in _KINDS:
            raise StyleCodeError(f"style code kind must be PR or SMD, got {self.kind!r}")
        object.__setattr__(self, "kind", BallotKind(self.kind))
        if self.language not in LANGUAGES:
            raise StyleCodeError(
                f"style code language must be one of {', '.join(LANGUAGES)}, got {self.language!r}"
            )
        if (self.kind is BallotKind.PR) != (self.district == 0):
            raise StyleCodeError(
                f"a {self.kind} style code needs "
                f"{'district 0' if self.kind is BallotKind.PR else 'a district 1..63'}, "
                f"got {self.district}"
            )


def election_tag(fingerprint_hex: str) -> int:
    """The 16-bit tag printed on ballots: the first four hex digits of the fingerprint.

    Sixteen bits make an accidental match between two elections a 1 in 65,536 event; the
    tag is a guard against feeding last year's ballots, not a cryptographic binding.
    """
    head = fingerprint_hex[:4] if isinstance(fingerprint_hex, str) else ""
    if len(head) != 4 or any(c not in "0123456789abcdefABCDEF" for c in head):
        raise StyleCodeError(
            f"an election fingerprint must start with 4 hex digits, got {fingerprint_hex!r}"
        )
    return int(head, 16)


def crc16(bits: Sequence[int]) -> int:
    """CRC-16/CCITT-FALSE over a bit sequence, most significant bit first."""
    crc = _CRC_INIT
    for bit in bits:
        feedback = ((crc >> 15) & 1) ^ (bit & 1)
        crc = (crc << 1) & 0xFFFF
        if feedback:
            crc ^= _CRC_POLY
    return crc


def _to_bits(value: int, width: int) -> list[int]:
    return [(value >> shift) & 1 for shift in range(width - 1, -1, -1)]


def _from_bits(bits: Sequence[int]) -> int:
    value = 0
    for bit in bits:
        value = (value << 1) | bit
    return value


def encode(code: StyleCode) -> tuple[int, ...]:
    """The 58 payload bits (data then CRC) of a style code."""
    values = {
        "version": code.version,
        "election_tag": code.election_tag,
        "kind": _KINDS.index(code.kind),
        "language": LANGUAGES.index(code.language),
        "district": code.district,
        "dec": code.dec,
    }
    data: list[int] = []
    for name, width in FIELDS:
        data += _to_bits(values[name], width)
    return (*data, *_to_bits(crc16(data), CRC_BITS))


def decode(bits: Sequence[int]) -> StyleCode:
    """Inverse of :func:`encode`; raises :class:`StyleCodeCrcError` on a CRC mismatch."""
    bits = _checked_bits(bits, CODE_BITS)
    data, crc = bits[:DATA_BITS], _from_bits(bits[DATA_BITS:])
    if crc16(data) != crc:
        raise StyleCodeCrcError("style code CRC mismatch: the strip was misread")
    values: dict[str, int] = {}
    offset = 0
    for name, width in FIELDS:
        values[name] = _from_bits(data[offset : offset + width])
        offset += width
    return StyleCode(
        election_tag=values["election_tag"],
        kind=_KINDS[values["kind"]],
        district=values["district"],
        dec=values["dec"],
        language=LANGUAGES[values["language"]],
        version=values["version"],
    )


def to_cells(code: StyleCode) -> tuple[int, ...]:
    """Every printed cell left to right, guards included (1 = black)."""
    return (*START_GUARD, *encode(code), *STOP_GUARD)


def from_cells(cells: Sequence[int]) -> StyleCode:
    """Decode a strip sampled left to right on an upright page (orientation fixed first)."""
    cells = _checked_bits(cells, CELL_COUNT)
    start, stop = tuple(cells[: len(START_GUARD)]), tuple(cells[-len(STOP_GUARD) :])
    if start != START_GUARD or stop != STOP_GUARD:
        raise StyleCodeError(
            f"style code guards not found (start {start}, stop {stop}): "
            "not a ballot, or sampled in the wrong orientation"
        )
    return decode(cells[len(START_GUARD) : -len(STOP_GUARD)])


def _checked_bits(bits: Sequence[int], length: int) -> list[int]:
    out = list(bits)
    if len(out) != length:
        raise StyleCodeError(f"style code needs {length} cells, got {len(out)}")
    if any(bit not in (0, 1) for bit in out):
        raise StyleCodeError("style code cells must be 0 or 1")
    return [int(bit) for bit in out]
