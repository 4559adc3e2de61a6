"""Pages, their API twins, uploads, and bad input: 4xx JSON and nothing stored."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from fixtures.protocols import true_protocol
from server_stub.uploads import MAX_BODY_BYTES
from server_stub.web.app import create_app

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def world(make_service, night):
    service = make_service()
    service.intake.ingest(night)
    service.publisher.refresh()
    return service, TestClient(create_app(service))


def _bearer(tokens, name):
    return {"Authorization": f"Bearer {tokens[1][name]}"}


def _protocol(election, truth, dec=2001, contest="PR", **changes):
    data = true_protocol(election, truth.decs[dec], contest).to_json()
    data.update(changes)
    return json.dumps(data).encode()


def test_every_page_has_its_api_twin(world):
    _, client = world
    for page, api in [
        ("/", "/api/v1/national"),
        ("/region/KG-T", "/api/v1/region/KG-T"),
        ("/district/20", "/api/v1/district/20"),
        ("/dec/2001", "/api/v1/dec/2001"),
        ("/discrepancies", "/api/v1/discrepancies"),
        ("/quarantine", "/api/v1/quarantine"),
    ]:
        html, data = client.get(page + "?lang=en"), client.get(api)
        assert html.status_code == data.status_code == 200, page
        assert "Content-Security-Policy" in html.headers
        text = html.text.replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert "http://" not in text and "https://" not in text, f"{page} refers outside"
    national = client.get("/api/v1/national").json()
    assert national["progress"]["decs_published"] == 5
    assert f"{national['participants']:,}".replace(",", "\u202f") in client.get("/?lang=en").text


def test_labels_in_three_languages(world):
    _, client = world
    assert "Turnout" in client.get("/?lang=en").text
    assert "Явка" in client.get("/?lang=ru").text
    assert "Катышуу" in client.get("/").text


def test_search_by_dec_number(world):
    _, client = world
    found = client.get("/search?dec=2003&lang=ru", follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"] == "/dec/2003?lang=ru"
    assert client.get("/api/v1/search?dec=2003").json() == {"dec": 2003, "url": "/dec/2003"}
    assert client.get("/api/v1/search?dec=77").status_code == 404
    bad = client.get("/api/v1/search?dec=../etc")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad-request"


def test_upload_with_scan_then_discrepancy_page(world, election, truth, tokens):
    service, client = world
    body = _protocol(
        election, truth, against_all=truth.decs[2001].tallies["PR"].votes["AGAINST_ALL"] + 2
    )
    sent = client.post(
        "/api/v1/protocols",
        headers=_bearer(tokens, "TEC-20"),
        files={
            "protocol": (None, body, "application/json"),
            "image": ("scan 1.png", PNG, "image/png"),
        },
    )
    assert sent.status_code == 201, sent.text
    stored = service.store.protocols()[0]
    assert stored.image_name.endswith(".png") and stored.image_name != "scan 1.png"
    dec = client.get("/api/v1/dec/2001").json()
    (manual,) = dec["protocols"]
    assert {d["line"] for d in manual["discrepancies"]} == {"against_all"}
    assert dec["discrepancy"] is True
    assert client.get(manual["image_url"]).content == PNG
    rows = client.get("/api/v1/discrepancies").json()["rows"]
    assert [(r["dec"], r["contest"]) for r in rows] == [(2001, "PR")]


def _nothing_stored(service, before: int) -> None:
    assert service.store.report_count() == before
    assert service.store.protocols() == []
    assert not service.uploads_dir.exists() or list(service.uploads_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("no-token", 401, "unauthorized"),
        ("wrong-token", 401, "unauthorized"),
        ("other-commission", 403, "forbidden"),
        ("not-json", 400, "bad-protocol"),
        ("missing-line", 400, "bad-protocol"),
        ("unknown-dec", 404, "not-found"),
        ("path-trick", 400, "bad-filename"),
        ("backslash-trick", 400, "bad-filename"),
        ("not-an-image", 400, "bad-image"),
        ("oversized", 413, "too-large"),
        ("wrong-type", 400, "bad-request"),
    ],
)
def test_bad_uploads_are_refused_with_nothing_stored(
    world, election, truth, tokens, case, status, code
):
    service, client = world
    before = service.store.report_count()
    headers = _bearer(tokens, "TEC-20")
    good = _protocol(election, truth)
    files = {"protocol": (None, good, "application/json")}
    kwargs = {"files": files}
    if case == "no-token":
        headers = {}
    elif case == "wrong-token":
        headers = {"Authorization": "Bearer nope"}
    elif case == "other-commission":
        headers = _bearer(tokens, "TEC-ABROAD")
    elif case == "not-json":
        files["protocol"] = (None, b"{not json", "application/json")
    elif case == "missing-line":
        files["protocol"] = (
            None,
            json.dumps({"dec": 2001, "contest": "PR"}).encode(),
            "application/json",
        )
    elif case == "unknown-dec":
        files["protocol"] = (
            None,
            _protocol(election, truth, dec=2001).replace(b'"dec": 2001', b'"dec": 7'),
            "x",
        )
    elif case == "path-trick":
        files["image"] = ("../../etc/passwd.png", PNG, "image/png")
    elif case == "backslash-trick":
        files["image"] = ("..\\..\\boot.ini", PNG, "image/png")
    elif case == "not-an-image":
        files["image"] = ("scan.png", b"<svg onload=alert(1)>", "image/png")
    elif case == "oversized":
        files["image"] = ("scan.png", PNG + b"\x00" * MAX_BODY_BYTES, "image/png")
    elif case == "wrong-type":
        kwargs = {"content": good}
        headers = {**headers, "Content-Type": "text/plain"}
    response = client.post("/api/v1/protocols", headers=headers, **kwargs)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    _nothing_stored(service, before)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"", 400, "bad-request"),
        (b"\x83\x01\x02", 400, "truncated"),
        (b"\x83" + b"\xff" * 100, 400, "malformed"),
        (b"\x03\x01\x00garbage\x00", 400, "bad-frame"),
        (b"\x83" * 70000, 413, "too-large"),
    ],
)
def test_malformed_packets_get_4xx_json(world, body, status, code):
    service, client = world
    before = service.store.report_count()
    response = client.post("/api/v1/packets", content=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    _nothing_stored(service, before)


def test_packets_over_http_are_exactly_once(make_service, night):
    service = make_service()
    client = TestClient(create_app(service))
    first = client.post("/api/v1/packets", content=night[0])
    again = client.post("/api/v1/packets", content=night[0])
    assert (first.json()["status"], again.json()["status"]) == ("accepted", "duplicate")
    assert first.json()["ack"] == again.json()["ack"]
    tampered = bytearray(night[1])
    tampered[-70] ^= 1
    refused = client.post("/api/v1/packets", content=bytes(tampered))
    assert refused.status_code == 403 and refused.json()["error"]["code"] in {
        "tampered",
        "bad-signature",
    }
    assert service.store.report_count() == 1


def test_public_pages_are_read_only_and_admin_needs_its_token(world, tokens, keys):
    service, client = world
    for url in ("/", "/api/v1/national", "/dec/2001"):
        response = client.post(url, content=b"x")
        assert (
            response.status_code == 405 and response.json()["error"]["code"] == "method-not-allowed"
        )
    revoke = "/api/v1/admin/units/PCOS-2001-1/revoke"
    assert (
        client.post(revoke, json={"reason": "x"}, headers=_bearer(tokens, "TEC-20")).status_code
        == 401
    )
    ok = client.post(
        revoke, json={"reason": "stolen"}, headers={"Authorization": f"Bearer {tokens[1]['admin']}"}
    )
    assert ok.status_code == 200
    assert service.registry.units()["PCOS-2001-1"]["revoked"]["reason"] == "stolen"


def test_nist_exports(world, truth):
    _, client = world
    results = client.get("/api/v1/export/nist-results").json()
    assert results["@type"] == "ElectionResults.ElectionReport"
    assert results["Status"] == "unofficial-complete"
    (pr,) = [c for c in results["Election"][0]["Contest"] if c["@id"] == "c-PR"]
    country = {
        s["@id"]: next(v["Count"] for v in s["VoteCounts"] if v["GpUnitId"] == "gp-country")
        for s in pr["ContestSelection"]
    }
    assert country == {f"cs-PR-{o}": n for o, n in truth.total("PR").votes.items()}
    cvr = client.get("/api/v1/export/nist-cvr").json()
    assert cvr["@type"] == "CVR.CastVoteRecordReport"
    ballots = sum(t.ballots for d in truth.decs.values() for t in d.tallies.values())
    assert len(cvr["CVR"]) == ballots


def test_unknown_export_and_bad_numbers(world):
    _, client = world
    assert client.get("/api/v1/export/xml").json()["error"]["code"] == "not-found"
    assert client.get("/api/v1/district/999").status_code == 404
    assert client.get("/dec/1e9").status_code == 404
