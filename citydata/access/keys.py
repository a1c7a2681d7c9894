"""The node's Ed25519 key: signs audit checkpoints (and, later, requests between nodes).

Optional. ``citydata node-key create`` writes it to ``$CITYDATA_HOME/keys/node_ed25519.pem``
(mode 0600), outside the database, so someone who can edit the database cannot also re-sign
the audit log.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from citydata.errors import Conflict, ValidationError
from citydata.settings import Settings

KEY_FILE = "node_ed25519.pem"


def key_path(settings: Settings) -> Path:
    return settings.home / "keys" / KEY_FILE


@dataclass(frozen=True)
class NodeKey:
    private: Ed25519PrivateKey | None
    public: Ed25519PublicKey

    @property
    def public_raw(self) -> bytes:
        return self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def public_b64(self) -> str:
        return base64.b64encode(self.public_raw).decode()

    @property
    def key_id(self) -> str:
        """A short fingerprint: the first 16 hex digits of SHA-256 of the public key."""
        return hashlib.sha256(self.public_raw).hexdigest()[:16]

    def sign(self, message: bytes) -> str:
        if self.private is None:
            raise ValidationError("This node key has no private part: it cannot sign")
        return base64.b64encode(self.private.sign(message)).decode()

    def verify(self, message: bytes, signature: str) -> bool:
        try:
            self.public.verify(base64.b64decode(signature), message)
            return True
        except (InvalidSignature, ValueError):
            return False


def create_key(settings: Settings, *, force: bool = False) -> NodeKey:
    """Generate the node key; refuses to replace an existing one unless ``force``."""
    path = key_path(settings)
    if path.exists() and not force:
        raise Conflict(
            f"A node key already exists at {path}; pass --force to replace it "
            "(checkpoints signed with the old key can then no longer be checked)"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_secret_file(path, pem)
    return NodeKey(private, private.public_key())


def write_secret_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by its owner only (0600), durably and atomically: a
    crash leaves the old file or the new one, never half a key."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_key(settings: Settings) -> NodeKey | None:
    """The node key, or None when this node has none."""
    path = key_path(settings)
    if not path.exists():
        return None
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise ValidationError(f"{path} is not an Ed25519 private key")
    return NodeKey(private, private.public_key())
