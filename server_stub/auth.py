"""Who may write: one token per territorial commission, and one for administrators.

Reading is public; every write names a bearer token.  Only SHA-256 hashes of tokens are
kept in the tokens file, so the file that the server reads does not itself open any
door.  A commission's token opens uploads for its own DECs only: a single-mandate
district's DECs, or the DECs abroad.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from election.model import Election
from server_stub.errors import ConfigError, Forbidden, Unauthorized

ABROAD = "TEC-ABROAD"


def commission_of(election: Election, dec: int) -> str:
    """The territorial commission that uploads DEC ``dec``'s protocols."""
    record = election.dec(dec)
    return ABROAD if record.abroad else f"TEC-{record.district:02d}"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Auth:
    """Token hashes: ``commissions`` maps a hash to a commission id."""

    admin: str
    commissions: dict[str, str]

    @classmethod
    def load(cls, path: str | Path) -> Auth:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(data["admin"], {h: c for c, h in data["commissions"].items()})
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"unreadable tokens file {path}: {exc}") from exc

    @staticmethod
    def bearer(header: str | None) -> str:
        if not header or not header.startswith("Bearer ") or len(header) > 512:
            raise Unauthorized("this write needs 'Authorization: Bearer <token>'")
        return header.removeprefix("Bearer ").strip()

    def check_admin(self, header: str | None) -> None:
        if not secrets.compare_digest(_digest(self.bearer(header)), self.admin):
            raise Unauthorized("not an administrator token")

    def commission(self, header: str | None) -> str:
        name = self.commissions.get(_digest(self.bearer(header)))
        if name is None:
            raise Unauthorized("not a commission token")
        return name

    def check_dec(self, header: str | None, election: Election, dec: int) -> str:
        """The caller's commission, if it may upload for ``dec``."""
        name = self.commission(header)
        if commission_of(election, dec) != name:
            raise Forbidden(f"{name} does not upload protocols of DEC {dec}")
        return name


def issue(election: Election, path: str | Path) -> dict[str, str]:
    """New tokens for the administrator and every commission; writes their hashes to
    ``path`` and returns the tokens themselves (shown once, never stored by the server)."""
    names = sorted({commission_of(election, d.number) for d in election.decs})
    tokens = {"admin": secrets.token_urlsafe(24)}
    tokens.update({name: secrets.token_urlsafe(24) for name in names})
    data = {
        "admin": _digest(tokens["admin"]),
        "commissions": {name: _digest(tokens[name]) for name in names},
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return tokens
