"""User-caused failures of the central server, each with an HTTP status.

The HTTP edge turns exactly these into ``{"error": {"code", "message"}}`` with
``status``; anything else is a bug and answers 500 without details.  The CLI prints the
message on one line.
"""

from __future__ import annotations

from election.errors import PcosLabError


class ServerError(PcosLabError):
    """A request or command the server refuses; ``status`` is the HTTP status."""

    code = "server"
    status = 400


class BadRequest(ServerError):
    """Input that is not what the endpoint accepts (not JSON, missing field, bad name)."""

    code = "bad-request"


class Unauthorized(ServerError):
    """No token, or a token that does not open this write."""

    code = "unauthorized"
    status = 401


class Forbidden(ServerError):
    """A valid token used outside its commission's territory."""

    code = "forbidden"
    status = 403


class NotFound(ServerError):
    """No such DEC, district, region, upload or page."""

    code = "not-found"
    status = 404


class TooLarge(ServerError):
    """An upload or body above its size limit."""

    code = "too-large"
    status = 413


class StoreError(ServerError):
    """The database cannot be opened, migrated or written."""

    code = "store"
    status = 503


class ConfigError(ServerError):
    """A server setting is not allowed (an address that is not loopback, a bad DSN)."""

    code = "server-config"
