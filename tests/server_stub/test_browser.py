"""The real server in real headless Chromium: national, district and DEC pages.

Packets go through transport's gateway over loopback TCP (the ACK proves each was
committed); the numbers the browser shows are then checked against sums computed
straight from the store's rows, and screenshots are kept under var/screenshots/.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from fixtures.protocols import true_protocol
from server_stub import server
from server_stub.store_sqlite import SqliteStore
from tests.server_stub.pcos_sim import WireClient
from transport import canonical

SHOTS = Path("var/screenshots")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


def chromium() -> str:
    path = os.environ.get("PCOS_CHROMIUM") or shutil.which("chromium")
    if path:
        return path
    message = "no chromium: run scripts/ensure-chromium.sh (make test does)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def _scan_png(dec: int) -> bytes:
    image = Image.new("RGB", (620, 420), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((10, 10, 610, 410), outline="black", width=3)
    draw.text((30, 30), f"PROTOCOL  DEC {dec}  (scan)", fill="black")
    for i in range(12):
        draw.line((30, 70 + 28 * i, 590, 70 + 28 * i), fill="#888")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _store_sums(db: Path):
    """Participants and votes per (contest, option), per DEC, from the stored rows only."""
    per_dec = defaultdict(lambda: {"participants": 0, "votes": defaultdict(int)})
    latest = {}
    for r in SqliteStore(db).reports():
        if r.type == 2:
            latest[r.unit] = r
    for r in latest.values():
        payload = canonical.loads(r.payload)
        entry = per_dec[r.dec]
        entry["participants"] = payload["participants"]
        for c in payload["contests"]:
            for option, n in c["votes"].items():
                entry["votes"][c["contest"], option] += n
    return per_dec


def _num(text: str) -> int:
    return int(text.replace("\u202f", "").replace(",", "").strip())


@pytest.fixture
def running(election, keys, tokens, tmp_path):
    (tmp_path / "election.json").write_text("{}")
    args = argparse.Namespace(
        db=str(tmp_path / "results.db"), keys=str(keys.root), host="127.0.0.1", port=0,
        gateway_port=0, tokens=str(tokens[0]), uploads=str(tmp_path / "uploads"),
        roll_margin=0, refresh=0.2,
    )  # fmt: skip
    service = server.build(election, args)
    service.registry.path = tmp_path / "registry.json"
    handle = server.start(service, args)
    yield handle
    handle.stop()


def test_pages_in_chromium_show_the_stored_numbers(running, fleet, truth, election, tokens):
    playwright = pytest.importorskip("playwright.sync_api")
    executable = chromium()
    client = WireClient(running.gateway.address, fleet.server.sign)
    for _, packet in fleet.night(truth):
        reply = client.send(packet)
        assert reply.header.type.name == "ACK"
    client.close()
    import httpx

    protocol = true_protocol(election, truth.decs[2001], "PR").to_json()
    protocol["invalid"] += 1
    protocol["found"] += 1
    sent = httpx.post(
        running.url + "/api/v1/protocols",
        headers={"Authorization": f"Bearer {tokens[1]['TEC-20']}"},
        files={"protocol": (None, canonical_json(protocol), "application/json"),
               "image": ("protocol-2001.png", _scan_png(2001), "image/png")},
    )  # fmt: skip
    assert sent.status_code == 201, sent.text
    running.service.publisher.refresh()

    sums = _store_sums(Path(running.db))
    national_participants = sum(v["participants"] for v in sums.values())
    pr_votes = defaultdict(int)
    for v in sums.values():
        for (contest, option), n in v["votes"].items():
            if contest == "PR":
                pr_votes[option] += n
    SHOTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(Path(running.db).parent / "chromium-profile"),
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 900},
        )  # fmt: skip
        page = context.new_page()
        page.goto(running.url + "/?lang=en")
        assert _num(page.text_content("#participants")) == national_participants
        for party, n in pr_votes.items():
            if party != "AGAINST_ALL":
                assert _num(page.text_content(f'tr[data-party="{party}"] td.votes')) == n
        page.screenshot(path=str(SHOTS / "national.png"), full_page=True)

        page.goto(running.url + "/district/20?lang=en")
        smd = page.locator('table[data-contest="SMD-20"]')
        for (_, option), n in _sum_contest(sums, "SMD-20").items():
            assert _num(smd.locator(f'tr[data-option="{option}"] td.votes').text_content()) == n
        page.screenshot(path=str(SHOTS / "district.png"), full_page=True)

        page.goto(running.url + "/dec/2001?lang=en")
        assert _num(page.text_content("#participants")) == sums[2001]["participants"]
        pr = page.locator('table[data-contest="PR"]')
        for (contest, option), n in sums[2001]["votes"].items():
            if contest == "PR":
                assert _num(pr.locator(f'tr[data-option="{option}"] td.votes').text_content()) == n
        assert page.locator("img.scan").evaluate("img => img.naturalWidth") == 620
        assert "Discrepancies" in page.text_content("main")
        page.screenshot(path=str(SHOTS / "dec.png"), full_page=True)
        context.close()


def _sum_contest(sums, contest: str) -> dict:
    out: dict = defaultdict(int)
    for v in sums.values():
        for key, n in v["votes"].items():
            if key[0] == contest:
                out[key] += n
    return out


def canonical_json(data) -> bytes:
    import json

    return json.dumps(data).encode()
