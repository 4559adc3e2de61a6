"""Typed errors of the secure channel.

Every refusal of the receiver is a :class:`Rejected` subclass with two names for the same
reason: ``code`` (text, for people, logs and JSON bodies) and ``wire`` (the number a NACK
carries, see docs/PROTOCOL.md).  One class per reason lets tests and the server tell a
forged signature from a replay without parsing messages, and lets a device tell a
permanent refusal (stop and tell the operator) from a transient one (retry later).
"""

from __future__ import annotations

from election.errors import PcosLabError


class TransportError(PcosLabError):
    """Anything the channel refuses or cannot do."""

    code = "transport"


# Receiver-side rejections ------------------------------------------------------------------


class Rejected(TransportError):
    """The receiver refused a frame or a packet.

    ``unit`` and ``seq`` are filled in once the header has been read, so a NACK can name
    the packet it refuses.  ``transient`` is true only when sending the same bytes again
    later may succeed.
    """

    code = "rejected"
    wire = 0
    transient = False

    def __init__(self, message: str, *, unit: str | None = None, seq: int | None = None):
        super().__init__(message)
        self.unit = unit
        self.seq = seq


class BadFrame(Rejected):
    """COBS structure, frame version, kind, flags or chunk fields are wrong."""

    code = "bad-frame"
    wire = 1


class BadCrc(Rejected):
    """The frame's CRC-32 does not match its contents (line noise)."""

    code = "bad-crc"
    wire = 2


class Truncated(Rejected):
    """The frame or packet ends before its structure does."""

    code = "truncated"
    wire = 3


class Oversized(Rejected):
    """The frame, chunk or packet is above its size limit."""

    code = "oversized"
    wire = 4


class Fragment(Rejected):
    """One chunk of a multi-chunk message was given where a whole packet is needed."""

    code = "fragment"
    wire = 5


class Malformed(Rejected):
    """Not deterministic CBOR of the v1 packet structure."""

    code = "malformed"
    wire = 16


class UnsupportedVersion(Rejected):
    """The packet's version is not 1."""

    code = "unsupported-version"
    wire = 17


class BadType(Rejected):
    """Unknown message type, or one the sender's side may not send."""

    code = "bad-type"
    wire = 18


class UnknownUnit(Rejected):
    """The unit id is not in the registry."""

    code = "unknown-unit"
    wire = 32


class RevokedUnit(Rejected):
    """The unit's key has been revoked."""

    code = "revoked-unit"
    wire = 33


class WrongElection(Rejected):
    """The packet names another election definition (fingerprint)."""

    code = "wrong-election"
    wire = 34


class BadSignature(Rejected):
    """The Ed25519 signature does not verify under the unit's registered key."""

    code = "bad-signature"
    wire = 35


class Tampered(Rejected):
    """AEAD authentication failed: header, ephemeral key, ciphertext or tag was altered."""

    code = "tampered"
    wire = 36


class SeqReused(Rejected):
    """This (unit, seq) was accepted before with different content."""

    code = "seq-reused"
    wire = 48


class StaleSeq(Rejected):
    """The seq is below the unit's highest accepted seq and was never accepted."""

    code = "stale-seq"
    wire = 49


class NonceReused(Rejected):
    """A new packet reuses a nonce the unit already used (a broken random generator)."""

    code = "nonce-reused"
    wire = 50


class StoreFailed(Rejected):
    """The server could not store the packet durably; send it again later."""

    code = "store-failed"
    wire = 64
    transient = True


def _all_rejections() -> dict[int, type[Rejected]]:
    found: dict[int, type[Rejected]] = {}
    pending = list(Rejected.__subclasses__())
    while pending:
        cls = pending.pop()
        found[cls.wire] = cls
        pending.extend(cls.__subclasses__())
    return dict(sorted(found.items()))


#: Wire code -> rejection class: the NACK table of docs/PROTOCOL.md.
REJECTIONS: dict[int, type[Rejected]] = _all_rejections()


# Sender-side errors --------------------------------------------------------------------------


class ConfigError(TransportError):
    """A setting is not allowed: an unknown profile, a gateway that is not loopback."""

    code = "transport-config"


class KeyStoreError(TransportError):
    """A key file or the registry is missing, unreadable, or would be overwritten."""

    code = "keys"


class ModemError(TransportError):
    """The modem answered a command with something other than success."""

    code = "modem"

    def __init__(self, message: str, *, result: str):
        super().__init__(message)
        self.result = result


class BadReply(TransportError):
    """A reply claiming to come from the server fails its signature or structure."""

    code = "bad-reply"


class DeliveryFailed(TransportError):
    """Retries or the deadline ran out before the server acknowledged the packet."""

    code = "delivery-failed"


class DeliveryRefused(TransportError):
    """The server answered with a signed NACK that retrying cannot fix."""

    code = "delivery-refused"

    def __init__(self, message: str, *, reason: str, wire: int):
        super().__init__(message)
        self.reason = reason
        self.wire = wire
