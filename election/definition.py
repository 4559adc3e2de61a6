"""The election definition as JSON: the one file every unit, server and auditor loads.

The format is plain JSON with sorted keys so that its SHA-256 (:func:`fingerprint`) is
the same on every machine: scanners refuse ballots and servers refuse packets whose
election fingerprint differs from their own.  Loading validates everything and names the
first bad field by its path (``decs[12].roll_smd``) with the reason, because an election
official editing a definition by hand needs to know exactly where it went wrong.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from election.errors import PcosLabError
from election.model import (
    AGAINST_ALL,
    Dec,
    District,
    Election,
    ListCandidate,
    Party,
    Region,
    Sex,
    SmdCandidate,
    UnitPlan,
)

FORMAT = "pcos-lab/election-definition"
FORMAT_VERSION = 1
MAX_LIST_LENGTH = 54


class DefinitionError(PcosLabError):
    """A definition that cannot be used, with the JSON path of the offending field."""

    code = "bad_definition"

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}" if path else reason)
        self.path = path
        self.reason = reason


# Writing ---------------------------------------------------------------------------------


def to_dict(election: Election) -> dict[str, Any]:
    """The definition as plain data, in a stable order."""
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "id": election.id,
        "name": election.name,
        "date": election.date,
        "rules": election.rules,
        "seats": {"pr": election.seats_pr, "smd": election.seats_smd},
        "units": {"total": election.units.total, "reserve": election.units.reserve},
        "regions": [
            {"code": r.code, "name": r.name, "seed_group": r.seed_group} for r in election.regions
        ],
        "districts": [
            {"number": d.number, "region": d.region, "name": d.name} for d in election.districts
        ],
        "parties": [
            {
                "id": p.id,
                "name": p.name,
                "ballot_position": p.ballot_position,
                "candidates": [
                    {"position": c.position, "name": c.name, "sex": c.sex.value}
                    for c in p.candidates
                ],
            }
            for p in election.parties
        ],
        "smd_candidates": [
            {
                "id": c.id,
                "district": c.district,
                "name": c.name,
                "sex": c.sex.value,
                "ballot_position": c.ballot_position,
                "nominated_by": c.nominated_by,
            }
            for c in election.smd_candidates
        ],
        "decs": [
            {
                "number": d.number,
                "district": d.district,
                "region": d.region,
                "country": d.country,
                "city": d.city,
                "roll_pr": d.roll_pr,
                "roll_smd": d.roll_smd,
                "units": d.units,
            }
            for d in election.decs
        ],
    }


def dumps(election: Election) -> str:
    """Canonical JSON text: sorted keys, UTF-8 names kept readable, one trailing newline."""
    return json.dumps(to_dict(election), ensure_ascii=False, sort_keys=True, indent=1) + "\n"


def fingerprint(election: Election) -> str:
    """SHA-256 hex of the canonical JSON, the election's identity on the wire and paper."""
    return hashlib.sha256(dumps(election).encode("utf-8")).hexdigest()


def save(election: Election, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(election), encoding="utf-8")
    return path


# Reading ---------------------------------------------------------------------------------


def load(path: str | Path) -> Election:
    """Read and validate a definition file; every failure is a :class:`DefinitionError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DefinitionError("", f"no such file: {path}") from None
    except IsADirectoryError:
        raise DefinitionError("", f"is a directory, not a definition file: {path}") from None
    except UnicodeDecodeError:
        raise DefinitionError("", f"not UTF-8 text: {path}") from None
    return loads(text)


def loads(text: str) -> Election:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DefinitionError("", f"not JSON (line {exc.lineno}, column {exc.colno})") from None
    return from_dict(data)


def from_dict(data: Any) -> Election:
    """Validate plain data and build the :class:`Election`."""
    _require(isinstance(data, Mapping), "", "the definition must be a JSON object")
    _require(data.get("format") == FORMAT, "format", f"must be {FORMAT!r}")
    _require(
        data.get("version") == FORMAT_VERSION, "version", f"unsupported (expected {FORMAT_VERSION})"
    )
    seats = _obj(data, "seats")
    units = _obj(data, "units")
    election = Election(
        id=_str(data, "id"),
        name=_str(data, "name"),
        date=_str(data, "date"),
        rules=_str(data, "rules"),
        seats_pr=_int(seats, "pr", "seats.pr", minimum=1),
        seats_smd=_int(seats, "smd", "seats.smd", minimum=0),
        units=UnitPlan(
            total=_int(units, "total", "units.total", minimum=1),
            reserve=_int(units, "reserve", "units.reserve", minimum=0),
        ),
        regions=tuple(_items(data, "regions", _region)),
        districts=tuple(_items(data, "districts", _district)),
        parties=tuple(_items(data, "parties", _party)),
        smd_candidates=tuple(_items(data, "smd_candidates", _smd_candidate)),
        decs=tuple(_items(data, "decs", _dec)),
    )
    _check_references(election)
    return election


def _region(item: Mapping, path: str) -> Region:
    return Region(
        code=_str(item, "code", path),
        name=_str(item, "name", path),
        seed_group=_str(item, "seed_group", path),
    )


def _district(item: Mapping, path: str) -> District:
    return District(
        number=_int(item, "number", f"{path}.number", minimum=1),
        region=_str(item, "region", path),
        name=_str(item, "name", path),
    )


def _party(item: Mapping, path: str) -> Party:
    party_id = _str(item, "id", path)
    _require(party_id != AGAINST_ALL, f"{path}.id", f"{AGAINST_ALL} is reserved")
    candidates = tuple(
        _items(item, "candidates", lambda c, p: _list_candidate(c, p, party_id), path)
    )
    return Party(
        id=party_id,
        name=_str(item, "name", path),
        ballot_position=_int(item, "ballot_position", f"{path}.ballot_position", minimum=1),
        candidates=candidates,
    )


def _list_candidate(item: Mapping, path: str, party_id: str) -> ListCandidate:
    return ListCandidate(
        party=party_id,
        position=_int(item, "position", f"{path}.position", minimum=1),
        name=_str(item, "name", path),
        sex=_sex(item, path),
    )


def _smd_candidate(item: Mapping, path: str) -> SmdCandidate:
    candidate_id = _str(item, "id", path)
    _require(candidate_id != AGAINST_ALL, f"{path}.id", f"{AGAINST_ALL} is reserved")
    nominated_by = item.get("nominated_by")
    _require(
        nominated_by is None or isinstance(nominated_by, str),
        f"{path}.nominated_by",
        "must be a party id or null",
    )
    return SmdCandidate(
        id=candidate_id,
        district=_int(item, "district", f"{path}.district", minimum=1),
        name=_str(item, "name", path),
        sex=_sex(item, path),
        ballot_position=_int(item, "ballot_position", f"{path}.ballot_position", minimum=1),
        nominated_by=nominated_by,
    )


def _dec(item: Mapping, path: str) -> Dec:
    district = item.get("district")
    region = item.get("region")
    if district is not None:
        district = _int(item, "district", f"{path}.district", minimum=1)
        region = _str(item, "region", path)
    else:
        _require(region is None, f"{path}.region", "an abroad DEC (no district) has no region")
    dec = Dec(
        number=_int(item, "number", f"{path}.number", minimum=1),
        district=district,
        region=region,
        country=_str(item, "country", path),
        city=_str(item, "city", path, allow_empty=True),
        roll_pr=_int(item, "roll_pr", f"{path}.roll_pr", minimum=0),
        roll_smd=_int(item, "roll_smd", f"{path}.roll_smd", minimum=0),
        units=_int(item, "units", f"{path}.units", minimum=1),
    )
    if dec.abroad:
        _require(dec.roll_smd == 0, f"{path}.roll_smd", "an abroad DEC issues no SMD ballot")
    return dec


def _check_references(election: Election) -> None:
    _unique((r.code for r in election.regions), "regions", "code")
    _unique((d.number for d in election.districts), "districts", "number")
    _unique((p.id for p in election.parties), "parties", "id")
    _unique((c.id for c in election.smd_candidates), "smd_candidates", "id")
    _unique((d.number for d in election.decs), "decs", "number")
    _require(len(election.parties) > 0, "parties", "an election needs at least one party")
    _require(len(election.decs) > 0, "decs", "an election needs at least one DEC")
    _require(
        len(election.districts) == election.seats_smd,
        "seats.smd",
        f"{election.seats_smd} SMD seats but {len(election.districts)} districts",
    )
    regions = {r.code for r in election.regions}
    districts = {d.number: d for d in election.districts}
    for i, district in enumerate(election.districts):
        _require(district.region in regions, f"districts[{i}].region", "unknown region")
    _contiguous((p.ballot_position for p in election.parties), "parties", "ballot_position")
    for i, party in enumerate(election.parties):
        path = f"parties[{i}].candidates"
        _require(
            len(party.candidates) <= MAX_LIST_LENGTH,
            path,
            f"{len(party.candidates)} candidates, at most {MAX_LIST_LENGTH} allowed",
        )
        _contiguous((c.position for c in party.candidates), path, "position")
    party_ids = {p.id for p in election.parties}
    for i, cand in enumerate(election.smd_candidates):
        path = f"smd_candidates[{i}]"
        _require(cand.district in districts, f"{path}.district", "unknown district")
        _require(
            cand.nominated_by is None or cand.nominated_by in party_ids,
            f"{path}.nominated_by",
            "unknown party",
        )
    for district in election.districts:
        positions = (c.ballot_position for c in election.candidates_in(district.number))
        _contiguous(positions, f"smd_candidates (district {district.number})", "ballot_position")
    for i, dec in enumerate(election.decs):
        if dec.district is not None:
            _require(dec.district in districts, f"decs[{i}].district", "unknown district")
            _require(
                districts[dec.district].region == dec.region,
                f"decs[{i}].region",
                f"district {dec.district} lies in {districts[dec.district].region}",
            )
    assigned = sum(d.units for d in election.decs)
    _require(
        assigned + election.units.reserve == election.units.total,
        "units",
        f"DEC units ({assigned}) + reserve ({election.units.reserve}) "
        f"!= total ({election.units.total})",
    )


# Small validators ------------------------------------------------------------------------


def _require(condition: bool, path: str, reason: str) -> None:
    if not condition:
        raise DefinitionError(path, reason)


def _join(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


def _obj(data: Mapping, key: str) -> Mapping:
    value = data.get(key)
    _require(isinstance(value, Mapping), key, "missing or not an object")
    return value


def _str(data: Mapping, key: str, parent: str = "", *, allow_empty: bool = False) -> str:
    value = data.get(key)
    path = _join(parent, key)
    _require(isinstance(value, str), path, "missing or not a string")
    _require(allow_empty or value.strip() != "", path, "must not be empty")
    return value


def _int(data: Mapping, key: str, path: str, *, minimum: int) -> int:
    value = data.get(key)
    _require(
        isinstance(value, int) and not isinstance(value, bool), path, "missing or not an integer"
    )
    _require(value >= minimum, path, f"must be at least {minimum}, got {value}")
    return value


def _sex(item: Mapping, parent: str) -> Sex:
    value = item.get("sex")
    _require(value in ("F", "M"), _join(parent, "sex"), "must be 'F' or 'M'")
    return Sex(value)


def _items(
    data: Mapping, key: str, build: Callable[[Mapping, str], Any], parent: str = ""
) -> Iterable[Any]:
    path = _join(parent, key)
    value = data.get(key)
    _require(isinstance(value, list), path, "missing or not a list")
    for i, item in enumerate(value):
        _require(isinstance(item, Mapping), f"{path}[{i}]", "must be an object")
        yield build(item, f"{path}[{i}]")


def _unique(values: Iterable, path: str, field: str) -> None:
    seen = set()
    for i, value in enumerate(values):
        _require(value not in seen, f"{path}[{i}].{field}", f"duplicate {value!r}")
        seen.add(value)


def _contiguous(values: Iterable[int], path: str, field: str) -> None:
    got = sorted(values)
    _require(
        got == list(range(1, len(got) + 1)),
        path,
        f"{field} values must be 1..{len(got)} without gaps or repeats",
    )
