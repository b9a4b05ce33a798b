"""Ed25519 key pairs for access tokens, written as PEM files (tests and ``make dev``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = ["KeyFiles", "write_keypair"]


@dataclass(frozen=True)
class KeyFiles:
    private_key_file: Path
    public_key_file: Path


def write_keypair(directory: Path, name: str = "access-token") -> KeyFiles:
    """Create (or reuse, when both files exist) a key pair in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    private_path = directory / f"{name}.key"
    public_path = directory / f"{name}.pub"
    if private_path.exists() and public_path.exists():
        return KeyFiles(private_path, public_path)
    key = Ed25519PrivateKey.generate()
    private_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    private_path.chmod(0o600)
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return KeyFiles(private_path, public_path)
