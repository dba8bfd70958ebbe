"""Errors of the sops format code, with sops's CLI exit codes.

Messages name the file and key path, never a value (sops's own AES parse error
echoes its input; ours does not). Exit codes are those of sops 3.11
(``cmd/sops/codes/codes.go``) for the same failure, so scripts written for sops
keep working.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from secretsync.errors import SecretsyncError

__all__ = [
    "SopsError",
    "StoreError",
    "MetadataNotFound",
    "MetadataError",
    "ConflictingParameters",
    "ValueDecryptError",
    "MacDecryptError",
    "MacMismatch",
    "MacNotFound",
    "EncryptError",
    "DataKeyUnavailable",
    "KeyResult",
    "GroupResult",
    "UnsupportedKeyType",
    "FileAlreadyEncrypted",
    "NoDocuments",
    "NoEncryptionKey",
    "ConfigError",
    "NoMatchingCreationRule",
    "TransitError",
    "InvalidTreePath",
    "NoFileSpecified",
    "VerificationFailed",
    "CouldNotWriteOutput",
    "CouldNotReadInput",
    # sops's exit codes
    "EXIT_GENERIC",
    "EXIT_COULD_NOT_READ_INPUT",
    "EXIT_COULD_NOT_WRITE_OUTPUT",
    "EXIT_ERROR_READING_CONFIG",
    "EXIT_CONFLICTING_PARAMETERS",
    "EXIT_ENCRYPTING_MAC",
    "EXIT_ENCRYPTING_TREE",
    "EXIT_DECRYPTING_MAC",
    "EXIT_DECRYPTING_TREE",
    "EXIT_MAC_MISMATCH",
    "EXIT_MAC_NOT_FOUND",
    "EXIT_INVALID_TREE_PATH",
    "EXIT_NEED_ONE_DOCUMENT",
    "EXIT_NO_FILE_SPECIFIED",
    "EXIT_NO_ENCRYPTION_KEY",
    "EXIT_COULD_NOT_RETRIEVE_KEY",
    "EXIT_FILE_ALREADY_ENCRYPTED",
]

EXIT_GENERIC = 1
EXIT_COULD_NOT_READ_INPUT = 2
EXIT_COULD_NOT_WRITE_OUTPUT = 3
EXIT_ERROR_READING_CONFIG = 5
EXIT_CONFLICTING_PARAMETERS = 8
EXIT_ENCRYPTING_MAC = 21
EXIT_ENCRYPTING_TREE = 23
EXIT_DECRYPTING_MAC = 24
EXIT_DECRYPTING_TREE = 25
EXIT_MAC_MISMATCH = 51
EXIT_MAC_NOT_FOUND = 52
EXIT_INVALID_TREE_PATH = 91
EXIT_NEED_ONE_DOCUMENT = 92
EXIT_NO_FILE_SPECIFIED = 100
EXIT_NO_ENCRYPTION_KEY = 111
EXIT_COULD_NOT_RETRIEVE_KEY = 128
EXIT_FILE_ALREADY_ENCRYPTED = 203


class SopsError(SecretsyncError):
    """Base of sops errors; ``exit_code`` is sops's code for the same failure."""

    reference = "sops-error"
    exit_code = EXIT_GENERIC


class StoreError(SopsError):
    """The file could not be parsed or emitted by its store (YAML, JSON, dotenv, INI, binary)."""

    reference = "sops-store-error"
    exit_code = 23


class CouldNotReadInput(SopsError):
    """The input file is missing or unreadable (sops: exit 2, or 100 for a missing file)."""

    reference = "sops-could-not-read-input"
    exit_code = EXIT_COULD_NOT_READ_INPUT


class CouldNotWriteOutput(SopsError):
    reference = "sops-could-not-write-output"
    exit_code = EXIT_COULD_NOT_WRITE_OUTPUT


class NoFileSpecified(SopsError):
    reference = "sops-no-file-specified"
    exit_code = EXIT_NO_FILE_SPECIFIED


class MetadataNotFound(SopsError):
    """The file has no ``sops`` metadata: it is not a sops file (sops: ``sops metadata not found``)."""

    reference = "sops-metadata-not-found"
    exit_code = EXIT_GENERIC


class MetadataError(SopsError):
    """The ``sops`` metadata is present but invalid (bad ``lastmodified``, version, selectors, keys)."""

    reference = "sops-metadata-invalid"
    exit_code = EXIT_GENERIC


class ConflictingParameters(SopsError):
    """More than one selector (suffix/regex) was given (sops: exit 8)."""

    reference = "sops-conflicting-parameters"
    exit_code = EXIT_CONFLICTING_PARAMETERS


class ValueDecryptError(SopsError):
    """A value failed to decrypt: tampered ciphertext, moved value, bad ``ENC[...]`` syntax (exit 25)."""

    reference = "sops-value-decrypt-failed"
    exit_code = EXIT_DECRYPTING_TREE


class MacDecryptError(SopsError):
    """The stored MAC could not be decrypted (e.g. ``lastmodified`` was edited) (exit 51)."""

    reference = "sops-mac-decrypt-failed"
    exit_code = EXIT_MAC_MISMATCH


class MacMismatch(SopsError):
    """The MAC of the decrypted values differs from the stored one (exit 51)."""

    reference = "sops-mac-mismatch"
    exit_code = EXIT_MAC_MISMATCH


class MacNotFound(SopsError):
    """The file has no MAC (sops 3.11 reports ``File has no MAC`` with exit 51)."""

    reference = "sops-mac-not-found"
    exit_code = EXIT_MAC_MISMATCH


class EncryptError(SopsError):
    """A value could not be encrypted (unsupported type, comment clash with a selector) (exit 23)."""

    reference = "sops-encrypt-failed"
    exit_code = EXIT_ENCRYPTING_TREE


class FileAlreadyEncrypted(SopsError):
    reference = "sops-file-already-encrypted"
    exit_code = EXIT_FILE_ALREADY_ENCRYPTED


class NoDocuments(SopsError):
    reference = "sops-empty-file"
    exit_code = EXIT_NEED_ONE_DOCUMENT


class NoEncryptionKey(SopsError):
    reference = "sops-no-encryption-key"
    exit_code = EXIT_NO_ENCRYPTION_KEY


class ConfigError(SopsError):
    """``.sops.yaml`` could not be read or is invalid (exit 5)."""

    reference = "sops-config-error"
    exit_code = EXIT_ERROR_READING_CONFIG


class NoMatchingCreationRule(ConfigError):
    reference = "sops-no-matching-creation-rule"


class InvalidTreePath(SopsError):
    reference = "sops-invalid-tree-path"
    exit_code = EXIT_INVALID_TREE_PATH


class VerificationFailed(SopsError):
    """Freshly encrypted content did not decrypt back to the same data; nothing was written."""

    reference = "sops-verification-failed"
    exit_code = EXIT_GENERIC


class UnsupportedKeyType(SopsError):
    """A master key type secretsync does not implement (PGP, cloud KMS); named in reports."""

    reference = "sops-unsupported-key-type"
    exit_code = EXIT_COULD_NOT_RETRIEVE_KEY


class TransitError(SopsError):
    """A Vault transit call failed; names the address and path, never the token."""

    reference = "sops-vault-transit-failed"
    exit_code = EXIT_COULD_NOT_RETRIEVE_KEY


@dataclass
class KeyResult:
    """One master key tried while recovering the data key, and why it failed."""

    key: str
    error: str


@dataclass
class GroupResult:
    """The outcome for one key group: ``ok`` or the keys tried."""

    ok: bool
    keys: list[KeyResult] = field(default_factory=list)


class DataKeyUnavailable(SopsError):
    """No (or too few) master keys could recover the data key (exit 128).

    ``report()`` lists each group, each key tried (by recipient/URI) and its failure,
    as sops's ``getDataKeyError.UserError`` does.
    """

    reference = "sops-data-key-unavailable"
    exit_code = EXIT_COULD_NOT_RETRIEVE_KEY

    def __init__(
        self, message: str, groups: list[GroupResult], threshold: int = 0, notes: list[str] | None = None, **kw: Any
    ) -> None:
        super().__init__(message, **kw)
        self.groups = groups
        self.threshold = threshold
        self.notes = notes or []

    def report(self) -> str:
        lines = [self.message, ""]
        for i, group in enumerate(self.groups):
            lines.append(f"Group {i}: {'SUCCESS' if group.ok else 'FAILED'}")
            if not group.ok:
                for k in group.keys:
                    lines.append(f"  {k.key}: FAILED")
                    lines.append(f"    - {k.error}")
        if len(self.groups) > 1:
            ok = sum(1 for g in self.groups if g.ok)
            lines.append("")
            lines.append(
                f"Recovery failed: {ok} of {len(self.groups)} key groups succeeded, {self.threshold} are required."
            )
        if self.notes:
            lines.append("")
            lines.append("Key sources that could not be loaded:")
            lines.extend(f"  - {note}" for note in self.notes)
        hint = self.hint or (
            "make one of the listed identities available (SOPS_AGE_KEY_FILE, SOPS_AGE_KEY, "
            "~/.config/sops/age/keys.txt) or a Vault token for the listed transit keys"
        )
        lines.append(f"hint: {hint}")
        return "\n".join(lines)
