"""Module signatures (Ed25519): who vouches for a module, checkable against trusted keys.

A digest (see :mod:`host.skills.lock`) says a module did not change since it was built; a
signature says *who* built or reviewed it. A policy can demand one from a trusted signer.

Formats (docs/skill-authors.md, "Signing"):

- public key: one line ``airlock-ed25519 <base64 of the 32 raw key bytes>`` (what a deployer
  lists as trusted);
- private key: PKCS#8 PEM, unencrypted, mode 0600 (``airlock skill keygen``);
- signature file ``<module>.sig`` next to the module: JSON
  ``{"v": 1, "alg": "ed25519", "key_id": ..., "module_sha256": ..., "signature": ...}``
  where ``signature`` is base64 of the Ed25519 signature of the bytes
  ``b"airlock-skill-signature-v1\\n" + module_sha256`` (lower-case hex, ASCII), and ``key_id``
  is the first 16 hex digits of the SHA-256 of the raw public key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from host.errors import SkillError
from host.skills.registry import Skill

PUBLIC_PREFIX = "airlock-ed25519"
CONTEXT = b"airlock-skill-signature-v1\n"  # domain separation: never valid for anything else
MAX_SIGNATURE_FILE = 4096


class Signature(BaseModel):
    """A ``.sig`` file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = 1
    alg: Literal["ed25519"] = "ed25519"
    key_id: Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]
    module_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    signature: Annotated[str, Field(max_length=200)]


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_text(public: Ed25519PublicKey) -> str:
    """The one-line public key a deployer lists as trusted."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return f"{PUBLIC_PREFIX} {base64.b64encode(raw).decode('ascii')}"


def parse_public(text: str) -> Ed25519PublicKey:
    """Parse a ``airlock-ed25519 <base64>`` line; SkillError if malformed."""
    parts = text.strip().split()
    if len(parts) != 2 or parts[0] != PUBLIC_PREFIX:
        raise SkillError(
            f"not an Airlock public key: {text.strip()[:40]!r}",
            hint=f"expected '{PUBLIC_PREFIX} <base64>' as printed by `airlock skill keygen`",
        )
    try:
        raw = base64.b64decode(parts[1], validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        raise SkillError("public key is not 32 bytes of valid base64") from None


def keygen(private_path: Path) -> str:
    """Write a new private key to ``private_path`` (0600, refuses to overwrite) and
    ``<private_path>.pub``; return the public key line."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SkillError(f"{private_path} exists; refusing to overwrite a key") from None
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    line = public_text(key.public_key())
    Path(f"{private_path}.pub").write_text(line + "\n", encoding="ascii")
    return line


def load_private(path: Path) -> Ed25519PrivateKey:
    """Load a private key file; refused if others can read it."""
    try:
        if path.stat().st_mode & 0o077:
            raise SkillError(f"private key {path} is readable by others", hint=f"chmod 600 {path}")
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise SkillError(f"cannot read private key {path}: {exc.strerror}") from None
    except ValueError:
        raise SkillError(f"{path} is not an unencrypted PKCS#8 PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SkillError(f"{path} is not an Ed25519 key")
    return key


def sign_module(module_bytes: bytes, key: Ed25519PrivateKey) -> Signature:
    """The signature of ``module_bytes`` by ``key``."""
    digest = hashlib.sha256(module_bytes).hexdigest()
    sig = key.sign(CONTEXT + digest.encode("ascii"))
    return Signature(
        key_id=key_id(key.public_key()),
        module_sha256=digest,
        signature=base64.b64encode(sig).decode("ascii"),
    )


def signature_path(module_path: Path) -> Path:
    return module_path.with_suffix(".sig")


def read_signature(path: Path) -> Signature:
    """Read a ``.sig`` file; SkillError if missing or malformed."""
    try:
        raw = path.read_bytes()[: MAX_SIGNATURE_FILE + 1]
    except FileNotFoundError:
        raise SkillError(
            f"{path} does not exist: the module is not signed",
            hint="sign it with `airlock skill sign <skill folder> --key KEYFILE`",
        ) from None
    if len(raw) > MAX_SIGNATURE_FILE:
        raise SkillError(f"{path} is over {MAX_SIGNATURE_FILE} bytes: not a signature file")
    try:
        return Signature.model_validate_json(raw)
    except ValidationError as exc:
        raise SkillError(f"{path}: malformed signature: {exc.errors()[0]['msg']}") from None


def verify_signature(
    module_bytes: bytes, signature: Signature, trusted_keys: Iterable[str | Ed25519PublicKey]
) -> str:
    """Check that a trusted key signed exactly ``module_bytes``; return that key's id.

    Raises SkillError when the signature is for other bytes, by a key not in ``trusted_keys``
    (lines as printed by keygen, or key objects), or does not verify. An empty trust list
    trusts nobody.
    """
    digest = hashlib.sha256(module_bytes).hexdigest()
    if signature.module_sha256 != digest:
        raise SkillError(
            f"signature is for module {signature.module_sha256[:16]}..., not this one "
            f"({digest[:16]}...)",
            hint="re-sign the module you built",
        )
    keys = [parse_public(k) if isinstance(k, str) else k for k in trusted_keys]
    matching = [k for k in keys if key_id(k) == signature.key_id]
    if not matching:
        raise SkillError(
            f"module is signed by key {signature.key_id}, which is not trusted",
            hint="add the signer's public key to the trusted keys if you trust them",
        )
    try:
        raw = base64.b64decode(signature.signature, validate=True)
    except binascii.Error:
        raise SkillError("signature is not valid base64") from None
    for key in matching:
        try:
            key.verify(raw, CONTEXT + digest.encode("ascii"))
        except InvalidSignature:
            continue
        return signature.key_id
    raise SkillError(f"signature by key {signature.key_id} does not verify: forged or corrupted")


def verify_skill(skill: Skill, trusted_keys: Iterable[str | Ed25519PublicKey]) -> str:
    """Verify a built skill: its module against its lock, then its ``.sig`` against
    ``trusted_keys``; return the signer's key id (SkillError otherwise)."""
    data = skill.read_module()
    return verify_signature(data, read_signature(signature_path(skill.module_path)), trusted_keys)
