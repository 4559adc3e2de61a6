"""The four primitives of the channel, over raw 32-byte keys.

Ed25519 (RFC 8032) identifies units and the server; X25519 (RFC 7748) agrees a secret
with the server's static key; HKDF-SHA256 (RFC 5869) turns it into an AEAD key;
ChaCha20-Poly1305 (RFC 8439) encrypts.  ChaCha20-Poly1305 rather than AES-GCM because a
scanner's embedded CPU rarely has AES instructions, and ChaCha20 is constant-time in
plain software.  Keys travel as raw bytes (the RFC encodings) so an independent client
needs nothing but these four functions.
"""

from __future__ import annotations

from Crypto.Cipher import ChaCha20_Poly1305
from Crypto.Hash import SHA256
from Crypto.Protocol import DH
from Crypto.Protocol.KDF import HKDF
from Crypto.PublicKey import ECC
from Crypto.Random import get_random_bytes
from Crypto.Signature import eddsa

KEY_LEN = 32
SIG_LEN = 64
NONCE_LEN = 12
TAG_LEN = 16


def random_bytes(n: int) -> bytes:
    """``n`` bytes from the operating system's CSPRNG."""
    return get_random_bytes(n)


class SigningKey:
    """An Ed25519 private key, from its 32-byte RFC 8032 seed."""

    def __init__(self, seed: bytes):
        if len(seed) != KEY_LEN:
            raise ValueError("an Ed25519 seed is 32 bytes")
        self.seed = bytes(seed)
        self._key = ECC.construct(curve="Ed25519", seed=self.seed)
        self._signer = eddsa.new(self._key, "rfc8032")
        self.public = self._key.public_key().export_key(format="raw")

    def sign(self, message: bytes) -> bytes:
        return self._signer.sign(message)


class VerifyKey:
    """An Ed25519 public key (32 bytes, RFC 8032 encoding)."""

    def __init__(self, public: bytes):
        if len(public) != KEY_LEN:
            raise ValueError("an Ed25519 public key is 32 bytes")
        self.public = bytes(public)
        self._verifier = eddsa.new(eddsa.import_public_key(self.public), "rfc8032")

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True when ``signature`` is valid; never raises on bad input."""
        if len(signature) != SIG_LEN:
            return False
        try:
            self._verifier.verify(message, signature)
        except ValueError:
            return False
        return True


class AgreementKey:
    """An X25519 private key (32 bytes, RFC 7748; clamped when used)."""

    def __init__(self, private: bytes):
        if len(private) != KEY_LEN:
            raise ValueError("an X25519 private key is 32 bytes")
        self.private = bytes(private)
        self._key = DH.import_x25519_private_key(self.private)
        self.public = self._key.public_key().export_key(format="raw")

    def exchange(self, peer_public: bytes) -> bytes:
        """The 32-byte X25519 shared secret; ValueError for a bad or low-order peer key."""
        if len(peer_public) != KEY_LEN:
            raise ValueError("an X25519 public key is 32 bytes")
        peer = DH.import_x25519_public_key(peer_public)
        shared = DH.key_agreement(static_priv=self._key, static_pub=peer, kdf=lambda s: s)
        if shared == bytes(KEY_LEN):
            raise ValueError("low-order X25519 public key")
        return shared


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int = KEY_LEN) -> bytes:
    """HKDF-SHA256 (RFC 5869) extract-then-expand."""
    return HKDF(ikm, length, salt, SHA256, context=info)


def aead_seal(key: bytes, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
    """ChaCha20-Poly1305: ciphertext followed by the 16-byte tag."""
    cipher = ChaCha20_Poly1305.new(key=key, nonce=nonce)
    cipher.update(aad)
    ciphertext, tag = cipher.encrypt_and_digest(plaintext)
    return ciphertext + tag


def aead_open(key: bytes, nonce: bytes, aad: bytes, sealed: bytes) -> bytes:
    """Inverse of :func:`aead_seal`; ValueError when anything was altered."""
    if len(sealed) < TAG_LEN:
        raise ValueError("shorter than the tag")
    cipher = ChaCha20_Poly1305.new(key=key, nonce=nonce)
    cipher.update(aad)
    return cipher.decrypt_and_verify(sealed[:-TAG_LEN], sealed[-TAG_LEN:])
