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

__all__ = ["VerificationError", "verify_commit"]


class VerificationError(SecretsyncError):
    """The commit is not signed by any of the trusted keys."""

    reference = "verification-failed"


def _bytes(value: object) -> bytes:
    reveal = getattr(value, "reveal", None)
    return reveal() if reveal else (value if isinstance(value, bytes) else str(value).encode())


def _git(source, args: list[str], home: str, extra_env: Mapping[str, str] = {}, timeout: float = 60.0):
    env = dict(source.git_env(home))  # the source's isolated git environment (SSH options, no user config)
    env.update(extra_env)
    return subprocess.run(
        [source.git, "-c", "core.hooksPath=/dev/null", *args],
        env=env,
        capture_output=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def verify_commit(source, sha: str | None, keys: Mapping[str, object], *, gpg: str = "gpg") -> str:
    """Raise ``VerificationError`` unless commit ``sha`` of ``source`` (a ``GitSource``) is signed by ``keys``.

    Returns which kind of key verified it (``openpgp`` or ``ssh``).
    """
    what = f"{source.display_url} commit {(sha or '?')[:12]}"
    if not sha:
        raise VerificationError(f"{what}: no commit to verify", hint="verification needs a Git source")
    verified = getattr(source, "_verified", None)
    if verified is None:
        verified = source._verified = {}
    if sha in verified:
        return verified[sha]
    pgp = [_bytes(v) for k, v in sorted(keys.items()) if k.endswith(".asc")]
    ssh = [_bytes(v).strip() for k, v in sorted(keys.items()) if k.endswith(".sshpub")]
    if not pgp and not ssh:
        raise VerificationError(
            f"{what}: the verification Secret holds no key (*.asc or *.sshpub entries)",
            hint="add the OpenPGP (.asc) or SSH (.sshpub) public keys allowed to sign",
        )
    with tempfile.TemporaryDirectory(prefix="secretsync-verify-") as tmp:
        home, repo = os.path.join(tmp, "home"), os.path.join(tmp, "repo.git")
        os.mkdir(home)
        os.mkdir(os.path.join(tmp, "gnupg"), 0o700)
        _check(_git(source, ["init", "-q", "--bare", repo], home), what, "prepare")
        fetch = ["-C", repo, "fetch", "-q", "--depth", "1", "--no-tags", "--", source.remote_url, sha]
        _check(_git(source, fetch, home, timeout=source.timeout), what, "fetch")
        extra = {"GNUPGHOME": os.path.join(tmp, "gnupg")}
        config: list[str] = []
        kinds = []
        if pgp:
            proc = subprocess.run(
                [gpg, "--batch", "--quiet", "--import"],
                input=b"\n".join(pgp),
                env={"GNUPGHOME": extra["GNUPGHOME"], "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                capture_output=True,
                timeout=30,
                check=False,
            )
            if proc.returncode not in (0, 2):
                raise VerificationError(
                    f"{what}: the OpenPGP keys (*.asc) could not be imported",
                    hint="export them with gpg --armor --export",
                )
            kinds.append("openpgp")
        if ssh:
            signers = Path(tmp, "allowed_signers")
            signers.write_bytes(b"".join(b'* namespaces="git" ' + key + b"\n" for key in ssh))
            config += ["-c", f"gpg.ssh.allowedSignersFile={signers}"]
            kinds.append("ssh")
        proc = _git(source, [*config, "-C", repo, "verify-commit", "--raw", sha], home, extra)
        output = proc.stderr.decode("utf-8", "replace")
        if proc.returncode != 0:
            if "no signature" in output.lower() or not output.strip():
                reason = "the commit is not signed"
            elif "NO_PUBKEY" in output or "No principal matched" in output or "ERRSIG" in output:
                reason = "the commit is signed by a key that is not trusted"
            else:
                reason = "the signature is not valid"
            raise VerificationError(
                f"{what}: {reason}",
                hint="sign commits with a trusted key (git commit -S) or add the signer's "
                "public key to the verification Secret",
            )
        kind = "openpgp" if "[GNUPG:] VALIDSIG" in output or "GOODSIG" in output else "ssh"
        verified[sha] = kind
        return kind


def _check(proc, what: str, step: str) -> None:
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        from secretsync.sources.git import mask_credentials

        reason = mask_credentials(detail[-1] if detail else f"exit code {proc.returncode}")[:300]
        raise VerificationError(
            f"{what}: cannot {step} the commit to verify it: {reason}", hint="check that the repository is reachable"
        )
