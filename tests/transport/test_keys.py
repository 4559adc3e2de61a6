"""Key files, the registry and revocation."""

from __future__ import annotations

import json
import stat

import pytest

from transport.errors import KeyStoreError, RevokedUnit, UnknownUnit
from transport.keys import KeyStore, Registry


def test_provision_writes_private_keys_readable_by_the_owner_only(tmp_path):
    store = KeyStore(tmp_path / "keys")
    assert store.provision(["U-1", "U-2"]) == ["U-1", "U-2"]
    for path in [
        store.root / "server" / "sign.key",
        store.root / "server" / "kex.key",
        store.unit_path("U-1"),
    ]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((store.root / "units").stat().st_mode) == 0o700
    registry = json.loads(store.registry_path.read_text())
    assert set(registry["units"]) == {"U-1", "U-2"}
    assert "seed" not in store.registry_path.read_text()
    assert store.registry().verify_key("U-1").public == store.unit_key("U-1").sign.public


def test_second_provision_keeps_the_server_and_refuses_duplicates(tmp_path):
    store = KeyStore(tmp_path)
    store.provision(["U-1"])
    server = store.server_public()
    store.provision(["U-2"])
    assert store.server_public() == server
    with pytest.raises(KeyStoreError, match="already provisioned"):
        store.provision(["U-3", "U-1"])
    assert not store.unit_path("U-3").exists()  # the whole batch was refused


def test_seeded_keys_are_reproducible_and_random_ones_are_not(tmp_path):
    a, b, c = KeyStore(tmp_path / "a"), KeyStore(tmp_path / "b"), KeyStore(tmp_path / "c")
    a.provision(["U-1"], seed=5)
    b.provision(["U-1"], seed=5)
    c.provision(["U-1"])
    assert a.server_public() == b.server_public() != c.server_public()
    assert a.unit_key("U-1").sign.seed == b.unit_key("U-1").sign.seed


def test_revocation_persists(tmp_path):
    store = KeyStore(tmp_path)
    store.provision(["U-1"])
    registry = store.registry()
    registry.verify_key("U-1")
    registry.revoke("U-1", "reported stolen", now=10)
    registry.save()
    with pytest.raises(RevokedUnit):
        registry.verify_key("U-1")  # the cached key is dropped at once
    with pytest.raises(RevokedUnit):
        store.registry().verify_key("U-1")
    assert store.registry().units()["U-1"]["revoked"] == {"at": 10, "reason": "reported stolen"}
    with pytest.raises(UnknownUnit):
        registry.revoke("U-9", "?", now=1)


@pytest.mark.parametrize("unit", ["", "-lead", "has space", "x" * 65, "ünit"])
def test_bad_unit_ids_are_refused(tmp_path, unit):
    with pytest.raises(KeyStoreError, match="bad unit id"):
        KeyStore(tmp_path).provision([unit])


def test_missing_or_damaged_files_are_named(tmp_path):
    store = KeyStore(tmp_path)
    with pytest.raises(KeyStoreError, match="no registry"):
        store.registry()
    with pytest.raises(KeyStoreError, match="no key file"):
        store.unit_key("U-1")
    store.provision(["U-1"])
    store.unit_path("U-1").chmod(0o600)
    store.unit_path("U-1").write_text("zz\n")
    with pytest.raises(KeyStoreError, match="unreadable key file"):
        store.unit_key("U-1")
    store.registry_path.write_text("[]")
    with pytest.raises(KeyStoreError, match="unreadable registry"):
        Registry.load(store.registry_path)
