"""Key provisioning, key files and the registry of unit public keys.

Layout under the key directory (default ``var/keys``)::

    server/sign.key      Ed25519 seed of the server (signs ACK and NACK)        0600
    server/kex.key       X25519 private key of the server (units encrypt to it)  0600
    server/public.json   both public keys, hex: what every unit is loaded with
    units/<unit>.key     Ed25519 seed of one unit                                0600
    registry.json        unit id -> public key, provisioning time, revocation

Private key files hold the 32 raw key bytes as hex on one line: trivially read by any
client, and never mistaken for a PEM that tools might print.  Files are created with
``O_EXCL`` and mode 0600 in 0700 directories, so provisioning never overwrites a key and
no other user can read one.  The registry holds only public keys; revoking a unit keeps
its entry (auditors still verify its old packets) and marks it refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transport.crypto import KEY_LEN, AgreementKey, SigningKey, VerifyKey, random_bytes
from transport.errors import KeyStoreError, Malformed, RevokedUnit, UnknownUnit
from transport.packet import Header, MessageType

DEFAULT_DIR = Path("var/keys")
REGISTRY_VERSION = 1


@dataclass(frozen=True)
class ServerPublic:
    """What a unit must know of the server: its two public keys."""

    sign: bytes
    kex: bytes

    def to_json(self) -> dict[str, str]:
        return {"sign": self.sign.hex(), "kex": self.kex.hex()}

    @classmethod
    def from_json(cls, data: Any) -> ServerPublic:
        try:
            sign, kex = bytes.fromhex(data["sign"]), bytes.fromhex(data["kex"])
            VerifyKey(sign)
        except (KeyError, TypeError, ValueError) as exc:
            raise KeyStoreError(f"bad server public keys: {exc}") from exc
        if len(kex) != KEY_LEN:
            raise KeyStoreError("bad server public keys: kex must be 32 bytes")
        return cls(sign=sign, kex=kex)


@dataclass(frozen=True)
class ServerKeys:
    """The server's private keys: ``sign`` for replies, ``kex`` to decrypt packets."""

    sign: SigningKey
    kex: AgreementKey

    @property
    def public(self) -> ServerPublic:
        return ServerPublic(sign=self.sign.public, kex=self.kex.public)


@dataclass(frozen=True)
class UnitKey:
    """One unit's identity: its id and Ed25519 key."""

    unit: str
    sign: SigningKey


def _derive(seed: int, label: str) -> bytes:
    """Deterministic key bytes for fixtures and vectors; never for a real election."""
    return hashlib.sha256(f"pcos-lab/test-key/{seed}/{label}".encode()).digest()


def _check_unit(unit: str) -> None:
    try:
        Header(MessageType.HEARTBEAT, unit, "0" * 16, 0, 0, 0)
    except Malformed as exc:
        raise KeyStoreError(f"bad unit id {unit!r}: {exc}") from exc


def _write_secret(path: Path, key: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise KeyStoreError(f"{path} exists; refusing to overwrite a key") from exc
    with os.fdopen(fd, "w") as handle:
        handle.write(key.hex() + "\n")


def _read_secret(path: Path) -> bytes:
    try:
        text = path.read_text(encoding="ascii").strip()
        key = bytes.fromhex(text)
    except FileNotFoundError as exc:
        raise KeyStoreError(f"no key file {path}") from exc
    except (OSError, ValueError) as exc:
        raise KeyStoreError(f"unreadable key file {path}: {exc}") from exc
    if len(key) != KEY_LEN:
        raise KeyStoreError(f"{path} does not hold a 32-byte key")
    return key


def _write_json(path: Path, data: Any) -> None:
    """Write via a temporary file and rename, so a crash never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


class Registry:
    """Unit id -> Ed25519 public key, with revocation; persisted as JSON.

    The receiver looks a unit up on every packet, so verification keys are parsed once.
    """

    def __init__(self, path: Path, units: dict[str, dict[str, Any]]):
        self.path = path
        self._units = units
        self._keys: dict[str, VerifyKey] = {}
        self.watchers: list[Callable[[Registry], None]] = []
        """Called after each :meth:`save`, so that copies (line workers) follow."""

    @classmethod
    def load(cls, path: str | Path) -> Registry:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            units = data["units"]
            if data.get("version") != REGISTRY_VERSION or not isinstance(units, dict):
                raise ValueError("not a version-1 registry")
        except FileNotFoundError as exc:
            raise KeyStoreError(f"no registry at {path}") from exc
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeyStoreError(f"unreadable registry {path}: {exc}") from exc
        return cls(path, units)

    def save(self) -> None:
        _write_json(self.path, {"version": REGISTRY_VERSION, "units": self._units})
        for watcher in self.watchers:
            watcher(self)

    def __contains__(self, unit: object) -> bool:
        return unit in self._units

    def units(self) -> dict[str, dict[str, Any]]:
        """A copy of every entry, for listing."""
        return {unit: dict(entry) for unit, entry in sorted(self._units.items())}

    def add(self, unit: str, public: bytes, now: int) -> None:
        if unit in self._units:
            raise KeyStoreError(f"unit {unit} is already registered")
        self._units[unit] = {"public": public.hex(), "provisioned": now, "revoked": None}

    def revoke(self, unit: str, reason: str, now: int) -> None:
        entry = self._units.get(unit)
        if entry is None:
            raise UnknownUnit(f"unit {unit} is not registered", unit=unit)
        entry["revoked"] = {"at": now, "reason": reason}
        self._keys.pop(unit, None)

    def verify_key(self, unit: str) -> VerifyKey:
        """The key that must have signed ``unit``'s packets; refuses unknown and revoked."""
        key = self._keys.get(unit)
        if key is not None:
            return key
        entry = self._units.get(unit)
        if entry is None:
            raise UnknownUnit(f"unit {unit} is not registered", unit=unit)
        if entry.get("revoked"):
            raise RevokedUnit(f"unit {unit} was revoked", unit=unit)
        try:
            key = VerifyKey(bytes.fromhex(entry["public"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise KeyStoreError(f"registry entry of {unit} is damaged: {exc}") from exc
        self._keys[unit] = key
        return key


@dataclass(frozen=True)
class KeyStore:
    """A key directory (see the module docstring)."""

    root: Path

    @property
    def registry_path(self) -> Path:
        return self.root / "registry.json"

    def unit_path(self, unit: str) -> Path:
        _check_unit(unit)
        return self.root / "units" / f"{unit}.key"

    def provision(self, units: Iterable[str], *, seed: int | None = None) -> list[str]:
        """Create the server keys (first time only), unit keys and registry entries.

        ``seed`` makes every key a function of (seed, name): same seed, same keys, for
        reproducible simulations and test vectors.  Never use it for a real election.
        """
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)

        def fresh(label: str) -> bytes:
            return random_bytes(KEY_LEN) if seed is None else _derive(seed, label)

        if not (self.root / "server" / "public.json").exists():
            sign, kex = SigningKey(fresh("server-sign")), AgreementKey(fresh("server-kex"))
            _write_secret(self.root / "server" / "sign.key", sign.seed)
            _write_secret(self.root / "server" / "kex.key", kex.private)
            public = ServerPublic(sign=sign.public, kex=kex.public)
            _write_json(self.root / "server" / "public.json", public.to_json())
        registry = (
            Registry.load(self.registry_path)
            if self.registry_path.exists()
            else Registry(self.registry_path, {})
        )
        created = list(dict.fromkeys(units))
        for unit in created:  # refuse the whole batch before writing any of it
            if unit in registry or self.unit_path(unit).exists():
                raise KeyStoreError(f"unit {unit} is already provisioned")
        now = int(time.time())
        for unit in created:
            key = SigningKey(fresh(f"unit/{unit}"))
            _write_secret(self.unit_path(unit), key.seed)
            registry.add(unit, key.public, now)
        registry.save()
        return created

    def registry(self) -> Registry:
        return Registry.load(self.registry_path)

    def server_keys(self) -> ServerKeys:
        return ServerKeys(
            sign=SigningKey(_read_secret(self.root / "server" / "sign.key")),
            kex=AgreementKey(_read_secret(self.root / "server" / "kex.key")),
        )

    def server_public(self) -> ServerPublic:
        path = self.root / "server" / "public.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise KeyStoreError(f"no server public keys at {path}") from exc
        except (OSError, ValueError) as exc:
            raise KeyStoreError(f"unreadable {path}: {exc}") from exc
        return ServerPublic.from_json(data)

    def unit_key(self, unit: str) -> UnitKey:
        return UnitKey(unit=unit, sign=SigningKey(_read_secret(self.unit_path(unit))))
