"""The four primitives of the channel, over raw 32-byte keys.

Ed25519 (RFC 8032) identifies units and the server; X25519 (RFC 7748) agrees a secret
with the server's static key; HKDF-SHA256 (RFC 5869) turns it into an AEAD key;
ChaCha20-Poly1305 (RFC 8439) encrypts.  ChaCha20-Poly1305 rather than AES-GCM because a
scanner's embedded CPU rarely has AES instructions, and ChaCha20 is constant-time in
plain software.  Keys travel as raw bytes (the RFC encodings) so an independent client
needs nothing but these four functions.

X25519, HKDF and the AEAD come from ``cryptography`` (OpenSSL); Ed25519 from PyNaCl
(libsodium), which on this project's 2-core machine verifies a signature in 66 µs
against OpenSSL's 144 µs and signs in 27 µs against 43 µs.  Verifying is the largest
single cost of taking in a packet, so the second library pays for itself on election
night; libsodium's verification is also the stricter one (it refuses small-order keys
and non-canonical signatures).  The wire format does not depend on the libraries:
docs/protocol-vectors.json is recomputed byte for byte by the tests.
"""

from __future__ import annotations

import os

import nacl.bindings
import nacl.exceptions
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_LEN = 32
SIG_LEN = 64
NONCE_LEN = 12
TAG_LEN = 16

_RAW = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def random_bytes(n: int) -> bytes:
    """``n`` bytes from the operating system's CSPRNG."""
    return os.urandom(n)


class SigningKey:
    """An Ed25519 private key, from its 32-byte RFC 8032 seed."""

    def __init__(self, seed: bytes):
        if len(seed) != KEY_LEN:
            raise ValueError("an Ed25519 seed is 32 bytes")
        self.seed = bytes(seed)
        self.public, self._secret = nacl.bindings.crypto_sign_seed_keypair(self.seed)

    def sign(self, message: bytes) -> bytes:
        return nacl.bindings.crypto_sign(message, self._secret)[:SIG_LEN]


class VerifyKey:
    """An Ed25519 public key (32 bytes, RFC 8032 encoding)."""

    def __init__(self, public: bytes):
        if len(public) != KEY_LEN:
            raise ValueError("an Ed25519 public key is 32 bytes")
        self.public = bytes(public)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True when ``signature`` is valid; never raises on bad input."""
        if len(signature) != SIG_LEN:
            return False
        try:
            nacl.bindings.crypto_sign_open(signature + message, self.public)
        except nacl.exceptions.BadSignatureError:
            return False
        return True


class AgreementKey:
    """An X25519 private key (32 bytes, RFC 7748; clamped when used)."""

    def __init__(self, private: bytes):
        if len(private) != KEY_LEN:
            raise ValueError("an X25519 private key is 32 bytes")
        self.private = bytes(private)
        self._key = X25519PrivateKey.from_private_bytes(self.private)
        self.public = self._key.public_key().public_bytes(*_RAW)

    def exchange(self, peer_public: bytes) -> bytes:
        """The 32-byte X25519 shared secret; ValueError for a bad or low-order peer key."""
        if len(peer_public) != KEY_LEN:
            raise ValueError("an X25519 public key is 32 bytes")
        shared = self._key.exchange(X25519PublicKey.from_public_bytes(peer_public))
        if shared == bytes(KEY_LEN):
            raise ValueError("low-order X25519 public key")
        return shared


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int = KEY_LEN) -> bytes:
    """HKDF-SHA256 (RFC 5869) extract-then-expand."""
    return HKDF(hashes.SHA256(), length, salt, info).derive(ikm)


def aead_seal(key: bytes, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
    """ChaCha20-Poly1305: ciphertext followed by the 16-byte tag."""
    return ChaCha20Poly1305(key).encrypt(nonce, plaintext, aad)


def aead_open(key: bytes, nonce: bytes, aad: bytes, sealed: bytes) -> bytes:
    """Inverse of :func:`aead_seal`; ValueError when anything was altered."""
    if len(sealed) < TAG_LEN:
        raise ValueError("shorter than the tag")
    try:
        return ChaCha20Poly1305(key).decrypt(nonce, sealed, aad)
    except InvalidTag:
        raise ValueError("authentication failed") from None
