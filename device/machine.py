"""The PCOS firmware: one unit's state machine over its journal, audit log and hardware.

Ordering rules that make the unit crash-safe (docs/device.md explains each):

* A state change happens only after the writes it depends on succeeded; a power cut or
  a full memory in between leaves the unit in the state before the action.
* A ballot is *accepted* the moment its journal record is durable (fsync mode) or
  written (group commit mode); the RAM counters and the screen change only then, and
  the audit record follows.  A power cut before that moment leaves either no record or
  a torn one, which start-up cuts off: that voter's ballot was not accepted.
* Start-up replays the journal through the same :meth:`Counters.add` the live path uses,
  so the counters after a restart equal the counters before it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ballot_reader.interpretation import Interpretation
from device.auditlog import AuditLog, last_entry
from device.clock import Clock, SystemClock, stamp
from device.counters import Counters, ballot_record
from device.errors import (
    DeviceError,
    IllegalTransition,
    JournalCorrupt,
    PollsRefused,
    StorageFull,
    TakeoverRefused,
)
from device.hardware import Feed, Feeder, IntentReader, Reader, Sheet
from device.journal import HEADER, MAGIC, Journal, scan
from device.reports import Report, Stamp, body
from device.signing import UnitKey, key_fingerprint, verify_signature
from device.states import Action, State, require, target
from device.storage import Storage
from device.takeover import import_record
from election.definition import fingerprint
from election.errors import PcosLabError
from election.model import Election
from election.rules import RuleSet
from election.validity import BallotError, ContestSpec, ContestVerdict, Handling, handling, judge

JOURNAL = "journal.bin"
AUDIT = "audit.log"
KEY = "unit.key"


@dataclass(frozen=True)
class UnitConfig:
    """Who the unit is: its id, its DEC, the contests whose ballots it counts (others
    are returned) and its journal commit interval (1: fsync every ballot)."""

    unit: str
    dec: int
    contests: tuple[str, ...]
    group: int = 1

    def check(self, election: Election) -> None:
        if not election.has_dec(self.dec):
            raise DeviceError(f"election {election.id} has no DEC {self.dec}")
        issued = {s.contest_id for s in election.styles_for(self.dec)}
        if not self.contests or not set(self.contests) <= issued:
            raise DeviceError(
                f"DEC {self.dec} issues {sorted(issued)}; a unit cannot count {list(self.contests)}"
            )
        if self.group < 1:
            raise DeviceError(f"group commit interval must be at least 1, got {self.group}")


_FINGERPRINTS: dict[int, tuple[Election, str]] = {}
_FINGERPRINTS_KEPT = 8


def election_fingerprint(election: Election) -> str:
    """The election's fingerprint, computed once per definition object (the last few
    are kept): a national simulation starts thousands of units with one definition,
    whose canonical JSON takes about a second to hash."""
    hit = _FINGERPRINTS.get(id(election))
    if hit is not None and hit[0] is election:
        return hit[1]
    value = fingerprint(election)
    if len(_FINGERPRINTS) >= _FINGERPRINTS_KEPT:
        _FINGERPRINTS.pop(next(iter(_FINGERPRINTS)))
    _FINGERPRINTS[id(election)] = (election, value)
    return value


def stored_config(storage: Storage, group: int = 1) -> UnitConfig | None:
    """The configuration a unit's memory was set up with, read from the journal's first
    record alone (so a memory damaged further on still names its unit); None for a
    blank memory."""
    data = storage.read(JOURNAL)
    if len(data) < len(MAGIC) + HEADER.size:
        return None
    length, _ = HEADER.unpack_from(data, len(MAGIC))
    try:
        found = scan(data[: len(MAGIC) + HEADER.size + length])
    except JournalCorrupt:
        return None
    head = found.records[0] if found.records else None
    if head is None or head.get("t") != "unit":
        return None
    return UnitConfig(head["unit"], head["dec"], tuple(head["contests"]), group)


class Status(enum.StrEnum):
    ACCEPTED = "accepted"
    RETURNED = "returned"
    NEEDS_REVIEW = "needs_review"
    JAMMED = "jammed"


@dataclass(frozen=True)
class Outcome:
    """What the unit shows after a sheet: accepted (with its journal number), returned
    (with the reason), held for the voter's decision, or jammed."""

    status: Status
    sheet: str
    reason: str = ""
    detail: str = ""
    verdict: ContestVerdict | None = None
    seq: int | None = None
    marginal: int = 0
    durable: bool = True

    def describe(self) -> str:
        if self.status is Status.ACCEPTED:
            v = self.verdict
            what = f"vote {v.option}" if v.option else v.kind.value
            marginal = f", {self.marginal} marginal mark(s)" if self.marginal else ""
            return f"#{self.seq} accepted: {v.contest} {what}{marginal}"
        if self.status is Status.NEEDS_REVIEW:
            return f"RETURNED WITH WARNING: {self.detail} (cast anyway or take back)"
        if self.status is Status.JAMMED:
            return "PAPER JAM: open the cover, remove the sheet, clear the jam"
        return f"returned: {self.reason}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class SelfTest:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def failures(self) -> str:
        return "; ".join(f"{c.name}: {c.detail}" for c in self.checks if not c.ok)


@dataclass
class _Stage:
    """What replaying the journal establishes besides the counters."""

    state: State = State.READY
    own_ballots: int = 0
    report_seq: int = 0
    stamps: dict[str, Stamp] = field(default_factory=dict)
    times: dict[str, str] = field(default_factory=dict)
    imported: list[dict[str, Any]] = field(default_factory=list)
    units: set[str] = field(default_factory=set)
    transmitted: int = 0
    last_time: str = ""


class Pcos:
    """One PCOS unit.  Drive it like the real one::

        unit = Pcos(config, election, DirStorage("var/unit"))
        unit.power_on(); unit.print_zero_report(); unit.open_polls()
        unit.insert(sheet) ...; unit.close_polls(); unit.print_final_report()

    Every operator action checks the transition table first; an illegal one raises
    :class:`IllegalTransition` and is logged.
    """

    def __init__(
        self,
        config: UnitConfig,
        election: Election,
        storage: Storage,
        *,
        reader: Reader | None = None,
        clock: Clock | None = None,
        feeder: Feeder | None = None,
        key: UnitKey | None = None,
        rules: RuleSet | None = None,
        on_transition: Callable[[State, Action, State], None] | None = None,
    ) -> None:
        config.check(election)
        self.config = config
        self.election = election
        self.fingerprint = election_fingerprint(election)
        self.rules = rules or RuleSet.named(election.rules)
        self.storage = storage
        self.reader = reader or IntentReader(election, config.dec, self.fingerprint)
        self.clock = clock or SystemClock()
        self.feeder = feeder or Feeder()
        self.on_transition = on_transition
        self.specs = {c: ContestSpec.of(election, c) for c in config.contests}
        self._offered_key = key
        self.state = State.OFF
        self.last: Outcome | None = None
        self.self_test: SelfTest | None = None
        self.recovery: dict[str, Any] = {}
        self.clock_warnings: list[str] = []
        self.fault = ""
        self._reset()

    def _reset(self) -> None:
        self.counters = Counters(self.election, self.config.contests)
        self.journal = Journal(self.storage, JOURNAL, self.config.group)
        self.audit = AuditLog(self.storage, AUDIT, self.config.unit)
        self.stage = _Stage()
        self.key: UnitKey | None = None
        self._audit_ok = False
        self._pending: tuple[Sheet, ContestVerdict, int] | None = None

    # Transitions ------------------------------------------------------------------------

    def _check(self, action: Action, wanted: State | None = None) -> State:
        try:
            if wanted is None and action in (Action.POWER_ON, Action.SELF_TEST):
                require(self.state, action)  # the target comes from the journal
                return self.state
            return target(self.state, action, wanted)
        except IllegalTransition as exc:
            self._log("illegal_transition", {"state": self.state.value, "action": action.value})
            raise exc from None

    def _enter(self, action: Action, new: State) -> None:
        old, self.state = self.state, new
        if self.on_transition is not None:
            self.on_transition(old, action, new)

    def _move(self, action: Action, wanted: State | None = None) -> None:
        self._enter(action, self._check(action, wanted))

    def _now(self) -> str:
        now = stamp(self.clock.now())
        last = self.stage.last_time
        if last and now < last:
            self.clock_warnings.append(f"clock went back from {last} to {now}")
        else:
            self.stage.last_time = now
        return now

    def _log(self, event: str, data: dict[str, Any] | None = None, *, sync: bool = False) -> None:
        if not self._audit_ok:
            return
        self.audit.append(self._now(), event, data)
        if sync:
            self.audit.sync()

    def _fault(self, why: str) -> None:
        """Enter FAULT after a storage failure; what was written stays as it is."""
        self._enter(Action.FAULT, target(self.state, Action.FAULT))
        self.fault = why
        try:
            self.journal.sync()
            self._log("fault", {"reason": why}, sync=True)
        except StorageFull:
            self._audit_ok = False

    # Power and self-test ------------------------------------------------------------------

    def power_on(self) -> SelfTest:
        """Recover from the journal, run the self-test, resume the recorded stage."""
        self._check(Action.POWER_ON)
        return self._start(Action.POWER_ON)

    def retry_self_test(self) -> SelfTest:
        """After fixing what failed (e.g. setting the clock), test again."""
        self._check(Action.SELF_TEST)
        return self._start(Action.SELF_TEST)

    def _start(self, action: Action) -> SelfTest:
        self._reset()
        self.fault = ""
        checks: list[Check] = []
        stuck = self._open_journal(checks)
        audit = self.audit.open()
        self._audit_ok = audit.ok
        if not audit.ok:
            where = self.storage.where(AUDIT)
            checks.append(Check("audit log", False, f"{audit.describe()}; kept at {where}"))
        self._check_key(checks)
        self._check_clock(checks)
        problem = self.reader.self_test()
        checks.append(Check("reader", not problem, problem))
        self.self_test = SelfTest(tuple(checks))
        if stuck is State.FAULT:
            self.fault = self.self_test.failures()
        new = stuck or (self.stage.state if self.self_test.ok else State.SELF_TEST_FAILED)
        self._log(action.value, {"self_test": self._checks_data(), "recovery": self.recovery})
        self._log_unlogged_ballots()
        if self._audit_ok:
            self.audit.sync()
        self._enter(action, target(self.state, action, new))
        return self.self_test

    def _checks_data(self) -> list[dict[str, Any]]:
        return [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.self_test.checks]

    def _open_journal(self, checks: list[Check]) -> State | None:
        """Replay the journal; None when the unit may go on, else the state it must
        stay in.  Nothing is written to a journal that is damaged or belongs to
        another election."""
        where = self.storage.where(JOURNAL)
        try:
            found = self.journal.read()
            head = found.records[0] if found.records else None
            if head is not None and head.get("t") != "unit":
                raise JournalCorrupt(found.offsets[0], 1, "the first record is not the unit record")
            if head is not None and head.get("election") != self.fingerprint:
                checks.append(
                    Check(
                        "election",
                        False,
                        f"the definition loaded ({self.fingerprint[:16]}…) is not the one this "
                        f"unit was set up with ({str(head.get('election'))[:16]}…)",
                    )
                )
                return State.SELF_TEST_FAILED
            if head is not None:
                self._replay(found.records, found.offsets)
        except JournalCorrupt as exc:
            checks.append(Check("storage", False, f"{exc}; the file is kept at {where}"))
            return State.FAULT
        self.journal.start(found)
        if head is None:
            self._provision()
        checks.append(Check("storage", True, f"{self.journal.records} journal records"))
        checks.append(Check("election", True, self.fingerprint))
        self.recovery = {
            "journal_records": self.journal.records,
            "ballots": self.counters.accepted,
            "torn_bytes": len(found.torn),
            "state": self.stage.state.value,
        }
        return None

    def _provision(self) -> None:
        """First power-on with this memory: store the key, bind the journal to the
        election, the unit and its DEC."""
        if not self.storage.read(KEY):
            key = self._offered_key or UnitKey.generate()
            self.storage.replace(KEY, key.seed)
        self.journal.append(
            {
                "t": "unit",
                "v": 1,
                "unit": self.config.unit,
                "dec": self.config.dec,
                "contests": list(self.config.contests),
                "election": self.fingerprint,
                "election_id": self.election.id,
                "time": self._now(),
            }
        )
        self.journal.sync()

    def _replay(self, records: tuple[dict[str, Any], ...], offsets: tuple[int, ...]) -> None:
        head = records[0]
        if (head["unit"], head["dec"]) != (self.config.unit, self.config.dec) or set(
            head["contests"]
        ) != set(self.config.contests):
            raise JournalCorrupt(
                offsets[0],
                1,
                f"this memory belongs to unit {head['unit']} (DEC {head['dec']}, "
                f"{'/'.join(head['contests'])})",
            )
        stage = self.stage
        stage.last_time = head["time"]
        stage.units.add(head["unit"])
        for index, (record, offset) in enumerate(zip(records[1:], offsets[1:], strict=True), 2):
            try:
                self._apply(record)
            except (KeyError, ValueError, TypeError) as exc:
                raise JournalCorrupt(offset, index, f"record does not replay ({exc!r})") from None
            stage.last_time = max(
                stage.last_time, record.get("time") or record.get("printed_at", "")
            )

    def _apply(self, record: dict[str, Any]) -> None:
        """One journal record's effect on the counters and the stage (replay only)."""
        stage = self.stage
        kind = record["t"]
        if kind == "ballot":
            if record["n"] != stage.own_ballots + 1:
                raise ValueError(f"ballot {record['n']} after ballot {stage.own_ballots}")
            self.counters.add(record)
            stage.own_ballots += 1
        elif kind == "return":
            self.counters.returned[record["r"]] += 1
        elif kind == "import":
            for ballot in record["ballots"]:
                self.counters.add(ballot)
            self.counters.returned.update(record["returned"])
            stage.imported.append(_import_summary(record))
            stage.units.update(record["units"])
        elif kind == "report":
            stamp_ = Stamp(**{k: record[k] for k in Stamp.__dataclass_fields__})
            if stamp_.sequence != stage.report_seq + 1:
                raise ValueError(f"report {stamp_.sequence} after report {stage.report_seq}")
            stage.report_seq = stamp_.sequence
            stage.stamps[stamp_.kind] = stamp_
            stage.state = State.ZERO_REPORTED if stamp_.kind == "zero" else State.FINAL_REPORTED
        elif kind == "event":
            event = record["e"]
            stage.times[event] = record["time"]
            stage.state = {
                "polls_open": State.POLLS_OPEN,
                "polls_closed": State.POLLS_CLOSED,
                "transmitted": State.TRANSMITTED,
            }[event]
            if event == "transmitted":
                stage.transmitted = record["n"]
        else:
            raise ValueError(f"unexpected record type {kind!r}")

    def _check_key(self, checks: list[Check]) -> None:
        seed = self.storage.read(KEY)
        if len(seed) != 32:
            checks.append(Check("keys", False, f"unit key missing or damaged in {KEY}"))
            return
        key = UnitKey(seed)
        challenge = f"self-test {self.config.unit} {self.journal.records}".encode()
        if not verify_signature(key.public, challenge, key.sign(challenge)):
            checks.append(Check("keys", False, "the key does not verify its own signature"))
            return
        self.key = key
        checks.append(Check("keys", True, key_fingerprint(key.public)))

    def _check_clock(self, checks: list[Check]) -> None:
        last = self.stage.last_time
        now = stamp(self.clock.now())
        if last and now < last:
            checks.append(
                Check("clock", False, f"reads {now}, before the last recorded time {last}")
            )
            return
        note = "" if now[:10] == self.election.date else f"not election day ({self.election.date})"
        checks.append(Check("clock", True, f"{now} {note}".strip()))

    def _log_unlogged_ballots(self) -> None:
        """Ballots whose record reached the journal but whose audit record did not (the
        power failed between the two): they were accepted; say so in the log."""
        if not self._audit_ok:
            return
        entry = last_entry(self.storage.read(AUDIT), "accepted")
        logged = entry["data"]["n"] if entry else 0
        if self.stage.own_ballots > logged:
            self._log(
                "recovered_ballots",
                {
                    "from": logged + 1,
                    "to": self.stage.own_ballots,
                    "why": "power lost before logging",
                },
            )

    def power_off(self) -> None:
        self._check(Action.POWER_OFF)
        if self.state is not State.FAULT:
            self.journal.sync()
            self._log("power_off", sync=True)
        self._enter(Action.POWER_OFF, State.OFF)

    # Reports -----------------------------------------------------------------------------

    def _refuse_if_failed(self, action: Action) -> None:
        if self.state in (State.SELF_TEST_FAILED, State.FAULT):
            why = self.fault or (self.self_test.failures() if self.self_test else "")
            self._log("refused", {"action": action.value, "why": why})
            raise PollsRefused(f"the unit refuses to {action.value.replace('_', ' ')}: {why}")

    def print_zero_report(self) -> Report:
        """Print the zero report (required before the polls open); a reprint gives the
        same report."""
        self._refuse_if_failed(Action.PRINT_ZERO)
        new = self._check(Action.PRINT_ZERO)
        if self.counters.accepted:
            self._log("refused", {"action": "print_zero_report", "ballots": self.counters.accepted})
            raise IllegalTransition(
                self.state.value,
                Action.PRINT_ZERO.value,
                f"the unit holds {self.counters.accepted} ballots",
            )
        report = self._report("zero")
        self._enter(Action.PRINT_ZERO, new)
        return report

    def print_final_report(self) -> Report:
        """Print the final report after the polls close; a reprint gives the same bytes."""
        new = self._check(Action.PRINT_FINAL)
        report = self._report("final")
        self._enter(Action.PRINT_FINAL, new)
        return report

    def _report(self, kind: str) -> Report:
        stamp_ = self.stage.stamps.get(kind)
        if stamp_ is None:
            self.journal.sync()
            stamp_ = Stamp(
                kind=kind,
                sequence=self.stage.report_seq + 1,
                printed_at=self._now(),
                journal_sha256=self.journal.sha256(),
                journal_records=self.journal.records,
                audit_seq=self.audit.seq,
                audit_sha256=self.audit.head,
            )
            self._write_event({"t": "report", **asdict(stamp_)})
            self.stage.report_seq = stamp_.sequence
            self.stage.stamps[kind] = stamp_
            self._log(f"{kind}_report", {"sequence": stamp_.sequence}, sync=True)
        else:
            self._log(f"{kind}_report_reprinted", {"sequence": stamp_.sequence}, sync=True)
        return Report.sign(self._body(stamp_), self.key)

    def _body(self, stamp_: Stamp) -> dict[str, Any]:
        return body(
            stamp_,
            unit={
                "id": self.config.unit,
                "dec": self.config.dec,
                "contests": list(self.config.contests),
                "key": key_fingerprint(self.key.public),
            },
            election={
                "id": self.election.id,
                "name": self.election.name,
                "fingerprint": self.fingerprint,
            },
            rules={
                "name": self.rules.name,
                "invalid_ballot_policy": self.rules.validity.invalid_ballot_policy.value,
            },
            times=self.stage.times,
            tallies=self.counters.tallies(),
            summary=self.counters.summary(),
            imported=self.stage.imported,
            clock_warnings=self.clock_warnings,
        )

    def _write_event(self, record: dict[str, Any]) -> None:
        """Write an operator-action record durably; on a full memory enter FAULT."""
        try:
            self.journal.append(record)
            self.journal.sync()
        except StorageFull as exc:
            self._fault(str(exc))
            raise

    # Polls --------------------------------------------------------------------------------

    def open_polls(self) -> None:
        self._refuse_if_failed(Action.OPEN_POLLS)
        self._operator_event(Action.OPEN_POLLS, "polls_open")

    def close_polls(self) -> None:
        self._operator_event(Action.CLOSE_POLLS, "polls_closed")

    def _operator_event(self, action: Action, event: str) -> None:
        new = self._check(action)
        now = self._now()
        self._write_event({"t": "event", "e": event, "time": now})
        self.stage.times[event] = now
        self._enter(action, new)
        self._log(event, {"ballots": self.counters.accepted}, sync=True)

    def transmit(self, send: Callable[[dict[str, Any]], object]) -> int:
        """Hand the final report to ``send`` (the modem); journal it once sent.

        Returns the report's per-unit sequence number, which the server uses to
        recognise a retransmission.
        """
        new = self._check(Action.TRANSMIT)
        report = Report.sign(self._body(self.stage.stamps["final"]), self.key)
        send(report.to_json())
        seq = report.body["sequence"]
        self._write_event({"t": "event", "e": "transmitted", "n": seq, "time": self._now()})
        self.stage.transmitted = seq
        self._enter(Action.TRANSMIT, new)
        self._log("transmitted", {"sequence": seq}, sync=True)
        return seq

    # Takeover -----------------------------------------------------------------------------

    def import_journal(self, data: bytes) -> dict[str, Any]:
        """Take over a failed unit of the same DEC: count its durable ballots here."""
        new = self._check(Action.IMPORT_JOURNAL)
        try:
            record = import_record(
                data,
                fingerprint=self.fingerprint,
                dec=self.config.dec,
                contests=self.config.contests,
                reserve=self.config.unit,
            )
        except TakeoverRefused as exc:
            self._log("takeover_refused", {"why": str(exc)}, sync=True)
            raise
        again = set(record["units"]) & self.stage.units
        if again:
            why = f"unit(s) {sorted(again)} already counted here: importing again would double"
            self._log("takeover_refused", {"why": why}, sync=True)
            raise TakeoverRefused(why)
        record["time"] = self._now()
        self._write_event(record)
        for ballot in record["ballots"]:
            self.counters.add(ballot)
        self.counters.returned.update(record["returned"])
        summary = _import_summary(record)
        self.stage.imported.append(summary)
        self.stage.units.update(record["units"])
        self._enter(Action.IMPORT_JOURNAL, new)
        self._log("takeover", summary, sync=True)
        return summary

    # Ballots ------------------------------------------------------------------------------

    def insert(self, sheet: Sheet) -> Outcome:
        """A voter feeds one sheet: it is accepted, returned, held for review, or jams."""
        self._move(Action.INSERT)
        feed = self.feeder.take()
        if feed is Feed.JAM:
            self._move(Action.JAM)
            self._log("jam", {"sheet": sheet.label}, sync=True)
            return self._shown(Outcome(Status.JAMMED, sheet.label, "jam"))
        if feed is Feed.DOUBLE:
            return self._return(sheet, Action.RETURN, "double_feed", "two sheets at once")
        try:
            got = self.reader.read(sheet)
        except PcosLabError as exc:
            return self._return(sheet, Action.RETURN, "unreadable", str(exc))
        return self._decide(sheet, got)

    def _decide(self, sheet: Sheet, got: Interpretation) -> Outcome:
        if not got.readable:
            return self._return(sheet, Action.RETURN, got.reason.value, got.detail)
        ballot = got.ballot
        if ballot.dec != self.config.dec:
            return self._return(sheet, Action.RETURN, "wrong_dec", f"DEC {ballot.dec}")
        contest = ballot.style.contest_id
        if contest not in self.specs:
            why = f"a {contest} ballot; this unit counts {'/'.join(self.config.contests)}"
            return self._return(sheet, Action.RETURN, "wrong_contest", why)
        try:
            verdict = judge(ballot, self.specs[contest], self.rules.validity)
        except BallotError as exc:
            return self._return(sheet, Action.RETURN, "bad_marks", str(exc))
        marginal = len(got.marginal)
        if handling(verdict, self.rules.validity) is Handling.RETURN_WITH_WARNING:
            self._pending = (sheet, verdict, marginal)
            self._move(Action.NEEDS_REVIEW)
            warning = _warning(verdict)
            self._log("needs_review", {"sheet": sheet.label, "warning": warning})
            return self._shown(
                Outcome(Status.NEEDS_REVIEW, sheet.label, "warning", warning, verdict)
            )
        self._move(Action.READ_OK)
        return self._commit(sheet, verdict, marginal, after_warning=False)

    def cast_anyway(self) -> Outcome:
        """The voter casts a ballot returned with a warning as it is."""
        self._move(Action.CAST_ANYWAY)
        sheet, verdict, marginal = self._pending
        self._pending = None
        return self._commit(sheet, verdict, marginal, after_warning=True)

    def take_back(self) -> Outcome:
        """The voter takes a ballot returned with a warning back (to correct it)."""
        self._check(Action.TAKE_BACK)
        sheet = self._pending[0]
        self._pending = None
        return self._return(sheet, Action.TAKE_BACK, "taken_back", "after a warning")

    def clear_jam(self) -> None:
        """The operator removed the jammed sheet; it was not counted: feed it again."""
        self._move(Action.CLEAR_JAM)
        self._log("jam_cleared", sync=True)

    def _return(self, sheet: Sheet, action: Action, reason: str, detail: str) -> Outcome:
        new = self._check(action)
        try:
            self.journal.append({"t": "return", "r": reason, "s": sheet.label})
        except StorageFull as exc:
            return self._storage_full(sheet, exc)
        self.counters.returned[reason] += 1
        self._enter(action, new)
        self._log("returned", {"sheet": sheet.label, "reason": reason, "detail": detail})
        return self._shown(Outcome(Status.RETURNED, sheet.label, reason, detail))

    def _commit(
        self, sheet: Sheet, verdict: ContestVerdict, marginal: int, *, after_warning: bool
    ) -> Outcome:
        seq = self.stage.own_ballots + 1
        record = ballot_record(seq, verdict, marginal, after_warning, sheet.label)
        try:
            durable = self.journal.append(record, commit=True)
        except StorageFull as exc:
            return self._storage_full(sheet, exc)
        self.stage.own_ballots = seq
        self.counters.add(record)
        self._enter(Action.COMMITTED, target(self.state, Action.COMMITTED))
        self._log(
            "accepted",
            {
                "n": seq,
                "sheet": sheet.label,
                "verdict": verdict.kind.value,
                "marginal": marginal,
                "after_warning": after_warning,
            },
        )
        return self._shown(
            Outcome(
                Status.ACCEPTED,
                sheet.label,
                verdict=verdict,
                seq=seq,
                marginal=marginal,
                durable=durable,
            )
        )

    def _storage_full(self, sheet: Sheet, exc: StorageFull) -> Outcome:
        self.counters.returned["storage_full"] += 1
        self._fault(str(exc))
        return self._shown(Outcome(Status.RETURNED, sheet.label, "storage_full", str(exc)))

    def _shown(self, outcome: Outcome) -> Outcome:
        self.last = outcome
        return outcome


def _warning(verdict: ContestVerdict) -> str:
    if verdict.kind.value == "blank":
        return "blank ballot: no mark found"
    if verdict.kind.value == "overvote":
        return "overvote: more than one mark, no vote will count"
    return "two or more numbers marked: the preference will not count"


def _import_summary(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "unit": record["unit"],
        "units": record["units"],
        "sha256": record["sha256"],
        "ballots": len(record["ballots"]),
        "torn_bytes": record["torn"],
    }
