"""Scanned test pages from the fixtures: a ballot style, marks and a scan profile."""

from __future__ import annotations

import functools

import numpy as np

from election.layout import Layout, layout_for
from election.model import BallotKind, BallotStyle, Election
from fixtures.marks import MarkSpec
from fixtures.render import render
from fixtures.scan import Scan, scan
from fixtures.scenario import build

HOME_DEC = 101
"""A home DEC of the national scenario (district 1), issuing both ballots."""


@functools.cache
def national() -> Election:
    return build("kg2021", "national", 0)


def style(kind: BallotKind, language: str = "ky") -> BallotStyle:
    district = national().dec(HOME_DEC).district if kind is BallotKind.SMD else None
    return BallotStyle(kind, language, district)


@functools.cache
def layout(kind: BallotKind, dec: int = HOME_DEC) -> Layout:
    return layout_for(national(), style(kind), dec=dec)


def scanned(
    kind: BallotKind,
    marks: list[MarkSpec],
    *,
    language: str = "ky",
    dpi: float = 200,
    profile: str = "typical",
    seed: int = 0,
    cover: str | None = None,
) -> Scan:
    """A marked page of ``kind`` scanned through ``profile``; ``cover`` names a fiducial
    position (TL, TR, BR, BL) painted over with white paper before scanning."""
    lay = layout(kind)
    page = render(lay, language, dpi, marks, seed=seed)
    if cover is not None:
        page = page.copy()
        fid = next(f for f in lay.fiducials if f.position == cover)
        s = dpi / 25.4
        q = fid.quiet
        page[round(q.y0 * s) : round(q.y1 * s), round(q.x0 * s) : round(q.x1 * s)] = 255
    return scan(page, dpi, profile, np.random.default_rng(seed))
