"""age encryption of small payloads (sops data keys) — the only ``pyrage`` import.

sops stores each age master key's wrapped data key as an ASCII-armored age v1 file:
``-----BEGIN AGE ENCRYPTED FILE-----``, padded base64 in lines of exactly 64
columns, ``-----END AGE ENCRYPTED FILE-----`` (spec §6). ``pyrage.encrypt`` has no
armor option, so ``encrypt`` armors its binary output here.

Identities come in as text (age identity lines, ``_IDENTITY_PREFIX`` + ``1``…) or SSH private keys
(ed25519, RSA; what pyrage's age-ssh supports); callers at the I/O edge read them.
``AgeIdentity`` never shows key material in ``repr``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pyrage
from pyrage import ssh as _ssh
from pyrage import x25519 as _x25519

__all__ = [
    "AgeIdentity",
    "AgeError",
    "parse_identities",
    "parse_ssh_identity",
    "parse_recipient",
    "encrypt",
    "decrypt",
    "armor",
    "generate_identity",
]

ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----"
ARMOR_END = "-----END AGE ENCRYPTED FILE-----"
ARMOR_COLUMNS = 64
# what every age identity line starts with (then "1" for X25519, "PQ-" for post-quantum), written as
# prefix parts so that no line of this file has the shape of a private key
_IDENTITY_PREFIX = "AGE-SECRET" + "-KEY-"


class AgeError(ValueError):
    """An identity, recipient or age file could not be used. The message never holds key material."""


@dataclass(frozen=True, eq=False)
class AgeIdentity:
    """One age identity (X25519 or SSH) and where it came from; key material stays hidden."""

    _identity: Any
    source: str
    recipient: str = ""

    def __repr__(self) -> str:
        shown = f", recipient={self.recipient!r}" if self.recipient else ""
        return f"AgeIdentity(source={self.source!r}{shown})"


def generate_identity() -> tuple[str, str]:
    """A fresh X25519 identity as (its identity-line text, ``age1…`` recipient) — for tests and demos."""
    ident = _x25519.Identity.generate()
    return str(ident), str(ident.to_public())


def parse_identities(text: str, source: str) -> list[AgeIdentity]:
    """Identities from age identity-file text: one per line, blank and ``#`` lines ignored.

    ``source`` names where the text came from (an env variable, a path) for errors.
    """
    stripped = text.lstrip()
    if stripped.startswith("age-encryption") or stripped.startswith(ARMOR_BEGIN):
        raise AgeError(f"{source}: passphrase-encrypted age identity files are not supported")
    found: list[AgeIdentity] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(_IDENTITY_PREFIX + "1"):
            try:
                ident = _x25519.Identity.from_str(line)
            except Exception:  # noqa: BLE001 - pyrage raises several types; the message could echo the key
                raise AgeError(f"{source}: line {number} is not a valid age identity") from None
            found.append(AgeIdentity(ident, source, str(ident.to_public())))
        elif line.startswith("AGE-PLUGIN-"):
            raise AgeError(f"{source}: line {number} is an age plugin identity; plugins are not supported")
        elif line.startswith(_IDENTITY_PREFIX + "PQ-"):
            raise AgeError(f"{source}: line {number} is a post-quantum age identity; not supported")
        else:
            raise AgeError(f"{source}: line {number} is not an age identity (expected {_IDENTITY_PREFIX}1...)")
    return found


def parse_ssh_identity(data: bytes, source: str) -> AgeIdentity:
    """An SSH private key (unencrypted ed25519 or RSA) as an age identity."""
    try:
        ident = _ssh.Identity.from_buffer(bytes(data))
    except Exception:  # noqa: BLE001
        raise AgeError(f"{source}: not an unencrypted ed25519 or RSA SSH private key") from None
    return AgeIdentity(ident, source)


def parse_recipient(text: str) -> Any:
    """A recipient: ``age1…`` (X25519) or an SSH public key line (``ssh-ed25519``/``ssh-rsa``)."""
    text = text.strip()
    try:
        if text.startswith("age1"):
            if text.startswith("age1pq1"):
                raise AgeError(f"recipient {text!r}: post-quantum age recipients are not supported")
            return _x25519.Recipient.from_str(text)
        if text.startswith("ssh-ed25519 ") or text.startswith("ssh-rsa "):
            return _ssh.Recipient.from_str(text)
    except AgeError:
        raise
    except Exception:  # noqa: BLE001
        raise AgeError(f"recipient {text!r} is not a valid age or SSH recipient") from None
    raise AgeError(f"recipient {text!r} is not an age (age1...) or SSH (ssh-ed25519/ssh-rsa) recipient")


def armor(data: bytes) -> str:
    """RFC 7468 armor as age writes it: base64 in lines of 64 columns."""
    b64 = base64.b64encode(data).decode("ascii")
    lines = [b64[i : i + ARMOR_COLUMNS] for i in range(0, len(b64), ARMOR_COLUMNS)]
    return ARMOR_BEGIN + "\n" + "\n".join(lines) + "\n" + ARMOR_END + "\n"


def encrypt(payload: bytes, recipient: str) -> str:
    """``payload`` as an armored age file for one recipient."""
    parsed = parse_recipient(recipient)
    try:
        binary = pyrage.encrypt(bytes(payload), [parsed])
    except Exception:  # noqa: BLE001
        raise AgeError(f"could not encrypt to recipient {recipient!r}") from None
    return armor(binary)


def decrypt(armored: str | bytes, identities: Iterable[AgeIdentity]) -> bytes:
    """The payload of an (armored or binary) age file, trying every identity."""
    idents = [i._identity for i in identities]
    if not idents:
        raise AgeError("no age identities loaded")
    data = armored.encode("ascii", "replace") if isinstance(armored, str) else bytes(armored)
    stripped = data.lstrip(b"\r\n")
    try:
        plaintext: bytes = pyrage.decrypt(stripped, idents)
        return plaintext
    except pyrage.DecryptError as exc:
        reason = "no identity matched" if "No matching keys" in str(exc) else "the age file is corrupt"
        raise AgeError(reason) from None
    except Exception:  # noqa: BLE001
        raise AgeError("the age file is corrupt") from None
