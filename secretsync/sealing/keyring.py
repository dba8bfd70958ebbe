"""Sealing keys: generate, load, store, rotate, pick the newest; unseal with all of them.

A key is kept exactly as the upstream Sealed Secrets controller keeps it: a Secret of
type ``kubernetes.io/tls`` labelled ``sealedsecrets.bitnami.com/sealed-secrets-key:
active`` with a PKCS#1 ``tls.key`` and a self-signed ``tls.crt`` (upstream's
parameters: empty subject, serial < 2^128, KeyUsage encipherOnly, CA, SHA256-RSA).
So the same files can be ``kubectl apply``-ed for the upstream controller or ours,
and a backup made with ``kubectl get secret -l ...sealed-secrets-key -o yaml`` loads.

Storage is a small ``KeySecretStore`` protocol (list / get / put of key Secrets):
``FileKeyStore`` keeps one YAML file per key in a directory (mode 0600); the
controller implements the same protocol over the Kubernetes API. No Kubernetes
client code lives here. Private keys sit in ``SealingKey`` whose repr never shows
them. The newest key (latest certificate NotBefore) seals; every key unseals.
"""

from __future__ import annotations

import base64
import builtins
import datetime as dt
import hashlib
import logging
import os
import re
import secrets
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ObjectIdentifier

from secretsync import fileio
from secretsync.crypto import sealing
from secretsync.errors import SecretsyncError
from secretsync.gocompat import gobase64, gotime
from secretsync.secretvalue import SecretBytes

__all__ = [
    "SealingKey",
    "Keyring",
    "KeySecretStore",
    "FileKeyStore",
    "SealingKeyError",
    "generate_key",
    "fingerprint",
    "load_certificate",
    "parse_keys",
    "key_secret",
    "key_from_secret",
    "new_key_name",
    "rotate",
    "KEY_LABEL",
    "DEFAULT_KEY_PREFIX",
    "DEFAULT_KEY_SIZE",
    "DEFAULT_KEY_TTL",
    "DEFAULT_NAMESPACE",
]

log = logging.getLogger(__name__)

KEY_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key"
DEFAULT_KEY_PREFIX = "sealed-secrets-key"
DEFAULT_KEY_SIZE = 4096
DEFAULT_KEY_TTL = dt.timedelta(hours=87600)
DEFAULT_NAMESPACE = "kube-system"
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes generateName's alphabet
_KEY_USAGE_OID = ObjectIdentifier("2.5.29.15")
_KEY_USAGE_ENCIPHER_ONLY = b"\x03\x02\x00\x01"  # BIT STRING with only encipherOnly set, as Go writes it
_KEY_SUFFIXES = (".yaml", ".yml", ".json", ".pem", ".key")


class SealingKeyError(SecretsyncError):
    """A key or certificate could not be used; the message names the file or object."""

    reference = "sealing-key"


def fingerprint(public_key: rsa.RSAPublicKey) -> str:
    """OpenSSH-style ``SHA256:...`` fingerprint of the public key (upstream's key id)."""
    line = public_key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    blob = base64.b64decode(line.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


@dataclass(eq=False)
class SealingKey:
    """One private key with its certificate (None for a bare recovery PEM) and where it came from."""

    private_key: rsa.RSAPrivateKey = field(repr=False)
    certificate: x509.Certificate | None = field(default=None, repr=False)
    name: str = ""
    source: str = ""
    created: dt.datetime | None = None

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.private_key.public_key())

    @property
    def not_before(self) -> dt.datetime | None:
        return self.certificate.not_valid_before_utc if self.certificate is not None else None

    @property
    def not_after(self) -> dt.datetime | None:
        return self.certificate.not_valid_after_utc if self.certificate is not None else None

    def certificate_pem(self) -> bytes:
        if self.certificate is None:
            raise SealingKeyError(
                f"key {self.name or self.source} has no certificate",
                hint="load the key Secret (tls.crt) rather than a bare private key",
            )
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def __repr__(self) -> str:
        return f"SealingKey(name={self.name!r}, fingerprint={self.fingerprint!r}, private key <redacted>)"


def generate_key(
    bits: int = DEFAULT_KEY_SIZE,
    ttl: dt.timedelta = DEFAULT_KEY_TTL,
    cn: str = "",
    now: dt.datetime | None = None,
    name: str = "",
) -> SealingKey:
    """A new RSA key and self-signed certificate with the upstream controller's parameters."""
    if bits < 1024:
        raise SealingKeyError(f"key size {bits} is too small (at least 1024 bits; upstream default 4096)")
    now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    subject = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, cn)]) if cn else x509.Name([])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(secrets.randbits(128) or 1)
        .not_valid_before(now)
        .not_valid_after(now + ttl)
        .add_extension(x509.UnrecognizedExtension(_KEY_USAGE_OID, _KEY_USAGE_ENCIPHER_ONLY), critical=True)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return SealingKey(key, cert, name=name, created=now)


def new_key_name(prefix: str = DEFAULT_KEY_PREFIX) -> str:
    """``<prefix>`` plus five random characters, as Kubernetes ``generateName`` makes them."""
    return prefix + "".join(secrets.choice(_NAME_ALPHABET) for _ in range(5))


def key_secret(key: SealingKey, namespace: str = DEFAULT_NAMESPACE) -> dict[str, Any]:
    """The upstream key Secret for ``key`` (a plain dict; ``data`` values are base64 text)."""
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    metadata = {"name": key.name, "namespace": namespace, "labels": {KEY_LABEL: "active"}}
    if key.created is not None:
        metadata["creationTimestamp"] = gotime.format_time_seconds(key.created)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": base64.b64encode(key.certificate_pem()).decode(),
            "tls.key": base64.b64encode(pem).decode(),
        },
    }


# ---------------------------------------------------------------- parsing


def load_certificate(pem: bytes, source: str, now: dt.datetime | None = None) -> x509.Certificate:
    """The first CERTIFICATE of ``pem``, RSA, not expired (kubeseal's checks and texts)."""
    match = re.search(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", pem, re.S)
    if match is None:
        raise SealingKeyError(
            f"failed to read certificate {source}: no PEM CERTIFICATE block found",
            hint="pass the controller's certificate (secretsync keys cert, or /v1/cert.pem)",
        )
    try:
        cert = x509.load_pem_x509_certificate(match.group(0))
        public_key = cert.public_key()
    except ValueError:
        raise SealingKeyError(f"failed to read certificate {source}: not a valid X.509 certificate") from None
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise SealingKeyError(f"certificate {source} does not hold an RSA public key")
    now = now or dt.datetime.now(dt.UTC)
    if now > cert.not_valid_after_utc:
        day = cert.not_valid_after_utc
        raise SealingKeyError(
            f"failed to encrypt using an expired certificate on {day:%B} {day.day}, {day.year}",
            hint="fetch the current certificate (secretsync keys cert) or rotate the sealing key",
        )
    return cert


def _pem_private_keys(data: bytes, source: str) -> list[rsa.RSAPrivateKey]:
    keys = []
    for match in re.finditer(
        rb"-----BEGIN ((?:RSA |ENCRYPTED )?PRIVATE KEY|[A-Z ]*PRIVATE KEY)-----.*?-----END \1-----", data, re.S
    ):
        try:
            # OpenSSL's full RSA key check costs ~1 s per 4096-bit key (primality tests); a
            # round trip through the key (below) catches the inconsistent-key cases that matter
            # for decryption in a few milliseconds.
            key = serialization.load_pem_private_key(match.group(0), password=None, unsafe_skip_rsa_key_validation=True)
        except (ValueError, TypeError):
            raise SealingKeyError(
                f"key file {source}: a private key block could not be read (encrypted, damaged or of an unknown type)"
            ) from None
        except Exception:  # noqa: BLE001 - backend errors for unsupported algorithms
            raise SealingKeyError(f"key file {source}: unsupported private key type") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise SealingKeyError(
                f"key file {source}: the private key is not an RSA key",
                hint="sealing keys are RSA (kubernetes.io/tls Secrets made by the controller)",
            )
        if key.key_size < 1024 or not _round_trip_ok(key):
            raise SealingKeyError(f"key file {source}: the RSA private key is inconsistent (damaged)")
        keys.append(key)
    return keys


def _round_trip_ok(key: rsa.RSAPrivateKey) -> bool:
    """One seal/unseal through the key: its private and public halves belong together."""
    probe = secrets.token_bytes(32)
    try:
        return sealing.unseal([key], sealing.seal(key.public_key(), probe, b"probe"), b"probe").reveal() == probe
    except sealing.UnsealFailed:
        return False


def _secret_items(doc: object) -> Iterator[dict[str, Any]]:
    """Secrets inside a decoded document: a Secret, or a ``v1`` List (also SecretList) of them."""
    if not isinstance(doc, dict):
        return
    if isinstance(doc.get("items"), list) and str(doc.get("kind", "")).endswith("List"):
        for item in doc["items"]:
            yield from _secret_items(item)
    elif doc.get("kind") == "Secret" or ("kind" not in doc and isinstance(doc.get("data"), dict)):
        yield doc


def _parse_time(text: object) -> dt.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return gotime.parse_time(text)
    except ValueError:
        return None


def _key_from_secret(secret: dict[str, Any], source: str) -> SealingKey:
    metadata = secret.get("metadata") or {}
    name = metadata.get("name") or ""
    where = f"{source} (Secret {name or '<unnamed>'})"
    data = secret.get("data") or {}
    if not isinstance(data, dict) or "tls.key" not in data:
        raise SealingKeyError(
            f'key file {where}: Secret has no data["tls.key"]',
            hint="a sealing key is a kubernetes.io/tls Secret with tls.key and tls.crt",
        )

    def decoded(item: str) -> bytes:
        value = data[item]
        if isinstance(value, SecretBytes):
            return value.reveal()
        try:
            return gobase64.decode(value)
        except (ValueError, TypeError):
            raise SealingKeyError(f'key file {where}: data["{item}"] is not valid base64') from None

    keys = _pem_private_keys(decoded("tls.key"), where)
    if len(keys) != 1:
        raise SealingKeyError(f'key file {where}: data["tls.key"] holds no PEM private key')
    cert = None
    if data.get("tls.crt"):
        crt = decoded("tls.crt")
        match = re.search(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", crt, re.S)
        try:
            cert = x509.load_pem_x509_certificate(match.group(0)) if match else None
        except ValueError:
            cert = None
        if cert is None:
            log.warning('key file %s: data["tls.crt"] holds no readable certificate; key kept for unsealing', where)
    return SealingKey(keys[0], cert, name=name, source=source, created=_parse_time(metadata.get("creationTimestamp")))


def key_from_secret(secret: dict[str, Any], source: str) -> SealingKey:
    """The key of one key Secret (a dict as the API returns it); SealingKeyError names ``source``."""
    return _key_from_secret(secret, source)


def parse_keys(data: bytes, source: str) -> list[SealingKey]:
    """Every key in ``data``: PEM private key(s), a key Secret (YAML/JSON), a ``v1`` List, several docs."""
    if b"-----BEGIN" in data and b"PRIVATE KEY-----" in data and b"tls.key" not in data:
        pem_keys = _pem_private_keys(data, source)
        if not pem_keys:
            raise SealingKeyError(f"key file {source}: no PEM private key found")
        return [SealingKey(k, None, source=source) for k in pem_keys]
    try:
        docs = [d for d in yaml.safe_load_all(data.decode("utf-8")) if d is not None]
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" (line {mark.line + 1})"
        raise SealingKeyError(
            f"key file {source}: neither a PEM private key nor valid YAML/JSON{where}",
            hint="pass a PEM private key, a kubernetes.io/tls Secret or a v1 List of them",
        ) from None
    keys = [_key_from_secret(s, source) for d in docs for s in _secret_items(d)]
    if not keys:
        raise SealingKeyError(
            f"key file {source}: no sealing key found (expected a PEM private key, a kubernetes.io/tls "
            f"Secret or a v1 List of them)"
        )
    return keys


# ---------------------------------------------------------------- storage


class KeySecretStore(Protocol):
    """Where key Secrets live: a directory here, the controller's namespace in a cluster."""

    def list(self) -> builtins.list[dict[str, Any]]:
        """Every key Secret (label ``sealed-secrets-key: active``), as plain dicts."""

    def get(self, name: str) -> dict[str, Any] | None:
        """One key Secret by name, or None."""

    def put(self, secret: dict[str, Any]) -> None:
        """Create or replace a key Secret (named by ``metadata.name``)."""


class FileKeyStore:
    """One upstream-format key Secret YAML per key in ``directory``, each file mode 0600.

    Files that cannot be read are skipped with a warning naming them (never a crash);
    Secrets not labelled ``active`` are ignored, as the controller ignores them.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def _files(self) -> builtins.list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if p.is_file() and p.suffix in _KEY_SUFFIXES)

    def list(self) -> builtins.list[dict[str, Any]]:
        return [secret for _, secret in self._load_all()]

    def _load_all(self) -> builtins.list[tuple[Path, dict[str, Any]]]:
        out: builtins.list[tuple[Path, dict[str, Any]]] = []
        for path in self._files():
            try:
                docs = list(yaml.safe_load_all(path.read_bytes().decode("utf-8")))
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                log.warning("key directory: skipping %s: not readable as YAML", path)
                continue
            for doc in docs:
                for secret in _secret_items(doc):
                    labels = (secret.get("metadata") or {}).get("labels") or {}
                    if labels.get(KEY_LABEL) == "active":
                        out.append((path, secret))
        return out

    def get(self, name: str) -> dict[str, Any] | None:
        return next((s for s in self.list() if (s.get("metadata") or {}).get("name") == name), None)

    def put(self, secret: dict[str, Any]) -> None:
        name = (secret.get("metadata") or {}).get("name")
        if not name or not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", name):
            raise SealingKeyError("key Secret needs a valid metadata.name")
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        text = yaml.safe_dump(secret, sort_keys=True, default_flow_style=False, width=float("inf"))
        write_private_file(self.directory / f"{name}.yaml", text.encode("utf-8"))

    def keys(self) -> builtins.list[SealingKey]:
        """Every readable key; a file with a broken key is skipped with a warning naming it."""
        keys: builtins.list[SealingKey] = []
        for path, secret in self._load_all():
            try:
                keys.append(_key_from_secret(secret, str(path)))
            except SealingKeyError as exc:
                log.warning("key directory: skipping %s: %s", path, exc.message)
        return keys


def write_private_file(path: Path, content: bytes, mode: int = 0o600) -> None:
    """Write ``content`` atomically to ``path`` with ``mode`` (0600 unless told); see ``fileio.write_atomic``."""
    fileio.write_atomic(path, content, mode)


# ---------------------------------------------------------------- the keyring

_MIN_TIME = dt.datetime.min.replace(tzinfo=dt.UTC)


def _order_time(key: SealingKey) -> dt.datetime:
    return key.not_before or key.created or _MIN_TIME


def _creation_time(key: SealingKey) -> dt.datetime:
    return key.created or _MIN_TIME


class Keyring:
    """All retained sealing keys: the newest seals, every key unseals (last hit tried first)."""

    def __init__(self, keys: Sequence[SealingKey], order: str = "CertNotBefore") -> None:
        """``order`` is the controller's ``--key-order-priority``: ``CertNotBefore`` (default) or
        ``SecretCreationTimestamp``; it decides which key is the newest."""
        if order not in ("CertNotBefore", "SecretCreationTimestamp"):
            raise ValueError("order must be CertNotBefore or SecretCreationTimestamp")
        unique: dict[str, SealingKey] = {}
        for key in keys:  # upstream de-duplicates recovery keys by fingerprint
            unique.setdefault(key.fingerprint, key)
        by_time = _order_time if order == "CertNotBefore" else _creation_time
        # Oldest first, newest last; ties broken by name so the choice is stable.
        self.keys = sorted(unique.values(), key=lambda k: (by_time(k), k.name))
        self._unsealer = sealing.Unsealer([k.private_key for k in reversed(self.keys)])

    def __len__(self) -> int:
        return len(self.keys)

    def __repr__(self) -> str:
        return f"Keyring({len(self.keys)} keys)"

    @classmethod
    def from_dir(cls, path: str | os.PathLike[str]) -> Keyring:
        """Keys of a key directory (``FileKeyStore``); an empty or missing directory is an error."""
        return cls.from_store(FileKeyStore(path), str(path))

    @classmethod
    def from_store(cls, store: KeySecretStore, where: str = "the key store") -> Keyring:
        keys: list[SealingKey] = []
        if isinstance(store, FileKeyStore):
            if not store.directory.is_dir():
                raise SealingKeyError(
                    f"key directory {store.directory} does not exist",
                    hint="create one with: secretsync keys generate --key-dir DIR",
                )
            keys = store.keys()
        else:
            for secret in store.list():
                name = (secret.get("metadata") or {}).get("name", "")
                try:
                    keys.append(_key_from_secret(secret, f"Secret {name}"))
                except SealingKeyError as exc:
                    log.warning("skipping key Secret %s: %s", name, exc.message)
        if not keys:
            raise SealingKeyError(
                f"no sealing key found in {where}", hint="create one with: secretsync keys generate --key-dir DIR"
            )
        return cls(keys)

    @classmethod
    def from_files(cls, paths: Iterable[str]) -> Keyring:
        """Recovery keys from files (PEM, key Secret, v1 List); any unreadable file is an error."""
        keys = []
        for path in paths:
            try:
                data = Path(path).read_bytes()
            except OSError as exc:
                raise SealingKeyError(f"cannot read key file {path}: {exc.strerror}") from None
            keys.extend(parse_keys(data, path))
        if not keys:
            raise SealingKeyError("no private key given", hint="pass --recovery-private-key FILE (or --key FILE)")
        return cls(keys)

    def newest(self) -> SealingKey:
        """The sealing key: latest certificate NotBefore (else creation time)."""
        return self.keys[-1]

    def certificate_pem(self) -> bytes:
        """PEM of the newest certificate (what ``/v1/cert.pem`` serves)."""
        return self.newest().certificate_pem()

    def unseal(self, sealed: bytes, label: bytes) -> SecretBytes:
        """Plaintext of one sealed value; raises ``sealing.UnsealFailed``."""
        return self._unsealer.unseal(sealed, label)

    def unseal_with_key(self, sealed: bytes, label: bytes) -> tuple[SecretBytes, SealingKey]:
        """(plaintext, the key that opened it); raises ``sealing.UnsealFailed``."""
        plaintext, index = self._unsealer.unseal_index(sealed, label)
        return plaintext, self.keys[len(self.keys) - 1 - index]


def rotate(
    store: KeySecretStore,
    *,
    bits: int = DEFAULT_KEY_SIZE,
    ttl: dt.timedelta = DEFAULT_KEY_TTL,
    cn: str = "",
    namespace: str = DEFAULT_NAMESPACE,
    prefix: str = DEFAULT_KEY_PREFIX,
    now: dt.datetime | None = None,
) -> SealingKey:
    """Add a new newest key to ``store`` (old keys stay and keep unsealing).

    NotBefore has one-second resolution; a key made in the same second as the current
    newest gets NotBefore one second later, so "newest" is never a tie.
    """
    now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    existing = []
    for secret in store.list():
        try:
            existing.append(_key_from_secret(secret, "key store"))
        except SealingKeyError:
            continue
    latest = max((k.not_before for k in existing if k.not_before is not None), default=None)
    if latest is not None and now <= latest:
        now = latest + dt.timedelta(seconds=1)
    names = {k.name for k in existing}
    name = new_key_name(prefix)
    while name in names:
        name = new_key_name(prefix)
    key = generate_key(bits, ttl, cn, now=now, name=name)
    store.put(key_secret(key, namespace))
    return key
