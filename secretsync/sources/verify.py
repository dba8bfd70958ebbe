"""Commit signature verification with given public keys: ``git verify-commit --raw`` (LIBRARIES.md §8).

``verify_commit(source, sha, keys)`` fetches the commit object (depth 1) into a throwaway bare
repository and asks git whether its signature was made by one of ``keys`` (a Secret's data, as
Flux's ``GitRepository.spec.verify``): entries ending in ``.asc`` are OpenPGP public keys,
imported into a throwaway ``GNUPGHOME``; entries ending in ``.sshpub`` are SSH public keys,
written to a ``gpg.ssh.allowedSignersFile`` that trusts them for any principal. An unsigned
commit, a signature by another key, or a broken signature raises ``VerificationError`` naming
the commit; nothing from it may be applied. Verified commits are remembered per source.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from secretsync.errors import SecretsyncError
from secretsync.sources.git import GitSource, mask_credentials

__all__ = ["VerificationError", "verify_commit"]


class VerificationError(SecretsyncError):
    """The commit is not signed by any of the trusted keys."""

    reference = "verification-failed"


def _bytes(value: object) -> bytes:
    reveal = getattr(value, "reveal", None)
    if reveal is not None:
        revealed: bytes = reveal()
        return revealed
    return value if isinstance(value, bytes) else str(value).encode()


def _git(
    source: GitSource, args: list[str], home: str, extra_env: Mapping[str, str] | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[bytes]:
    env = dict(source.git_env(home))  # the source's isolated git environment (SSH options, no user config)
    env.update(extra_env or {})
    return subprocess.run(
        [source.git, "-c", "core.hooksPath=/dev/null", *args],
        env=env,
        capture_output=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def _trusted_keys(keys: Mapping[str, object], what: str) -> tuple[list[bytes], list[bytes]]:
    """(OpenPGP keys from ``*.asc`` entries, SSH keys from ``*.sshpub`` entries); none at all is an error."""
    pgp = [_bytes(v) for k, v in sorted(keys.items()) if k.endswith(".asc")]
    ssh = [_bytes(v).strip() for k, v in sorted(keys.items()) if k.endswith(".sshpub")]
    if not pgp and not ssh:
        raise VerificationError(
            f"{what}: the verification Secret holds no key (*.asc or *.sshpub entries)",
            hint="add the OpenPGP (.asc) or SSH (.sshpub) public keys allowed to sign",
        )
    return pgp, ssh


def _import_openpgp(gpg: str, keys: list[bytes], gnupghome: str, what: str) -> None:
    proc = subprocess.run(
        [gpg, "--batch", "--quiet", "--import"],
        input=b"\n".join(keys),
        env={"GNUPGHOME": gnupghome, "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        capture_output=True,
        timeout=30,
        check=False,
    )
    if proc.returncode not in (0, 2):
        raise VerificationError(
            f"{what}: the OpenPGP keys (*.asc) could not be imported",
            hint="export them with gpg --armor --export",
        )


def _allowed_signers(tmp: str, keys: list[bytes]) -> list[str]:
    """The git ``-c`` options trusting ``keys`` for any principal (an ``allowedSignersFile`` in ``tmp``)."""
    signers = Path(tmp, "allowed_signers")
    signers.write_bytes(b"".join(b'* namespaces="git" ' + key + b"\n" for key in keys))
    return ["-c", f"gpg.ssh.allowedSignersFile={signers}"]


def _refusal(output: str) -> str:
    """Why ``git verify-commit`` refused, from its output (never echoed: it names keys, not values)."""
    if "no signature" in output.lower() or not output.strip():
        return "the commit is not signed"
    if "NO_PUBKEY" in output or "No principal matched" in output or "ERRSIG" in output:
        return "the commit is signed by a key that is not trusted"
    return "the signature is not valid"


def verify_commit(source: GitSource, sha: str | None, keys: Mapping[str, object], *, gpg: str = "gpg") -> str:
    """Raise ``VerificationError`` unless commit ``sha`` of ``source`` is signed by one of ``keys``.

    Returns which kind of key verified it (``openpgp`` or ``ssh``).
    """
    what = f"{source.display_url} commit {(sha or '?')[:12]}"
    if not sha:
        raise VerificationError(f"{what}: no commit to verify", hint="verification needs a Git source")
    if sha in source.verified_commits:
        return source.verified_commits[sha]
    pgp, ssh = _trusted_keys(keys, what)
    with tempfile.TemporaryDirectory(prefix="secretsync-verify-") as tmp:
        home, repo, gnupghome = os.path.join(tmp, "home"), os.path.join(tmp, "repo.git"), os.path.join(tmp, "gnupg")
        os.mkdir(home)
        os.mkdir(gnupghome, 0o700)
        _check(_git(source, ["init", "-q", "--bare", repo], home), what, "prepare")
        fetch = ["-C", repo, "fetch", "-q", "--depth", "1", "--no-tags", "--", source.remote_url, sha]
        _check(_git(source, fetch, home, timeout=source.timeout), what, "fetch")
        if pgp:
            _import_openpgp(gpg, pgp, gnupghome, what)
        config = _allowed_signers(tmp, ssh) if ssh else []
        proc = _git(source, [*config, "-C", repo, "verify-commit", "--raw", sha], home, {"GNUPGHOME": gnupghome})
        output = proc.stderr.decode("utf-8", "replace")
        if proc.returncode != 0:
            raise VerificationError(
                f"{what}: {_refusal(output)}",
                hint="sign commits with a trusted key (git commit -S) or add the signer's "
                "public key to the verification Secret",
            )
        kind = "openpgp" if "[GNUPG:] VALIDSIG" in output or "GOODSIG" in output else "ssh"
        source.verified_commits[sha] = kind
        return kind


def _check(proc: subprocess.CompletedProcess[bytes], what: str, step: str) -> None:
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = mask_credentials(detail[-1] if detail else f"exit code {proc.returncode}")[:300]
        raise VerificationError(
            f"{what}: cannot {step} the commit to verify it: {reason}", hint="check that the repository is reachable"
        )
