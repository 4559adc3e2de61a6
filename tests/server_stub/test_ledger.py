"""The ledger parses a payload once, whether it comes decoded from the intake or not."""

from __future__ import annotations

import pytest

from server_stub.ledger import Ledger, arrival
from tests.server_stub.test_publish import _payloads, _report
from transport import canonical


@pytest.mark.parametrize("injection", [None, "negative-count", "payload-names-other-dec"])
def test_a_decoded_payload_gives_the_same_arrival_as_the_stored_bytes(election, truth, injection):
    for n, (unit, seq, payload) in enumerate(_payloads(election, truth.decs[2001], injection)):
        report = _report(unit, seq, 2001, payload, n + 1)
        decoded = canonical.loads(report.payload)
        assert arrival(report, decoded) == arrival(report)


def test_payloads_must_match_the_reports_one_for_one(election, truth):
    (unit, seq, payload), *_ = _payloads(election, truth.decs[2001], None)
    ledger = Ledger()
    with pytest.raises(ValueError):
        ledger.add_reports([_report(unit, seq, 2001, payload, 1)], [])
    assert ledger.by_dec == {} and ledger.version == 0
