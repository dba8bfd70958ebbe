"""A Git repository at a ref, fetched with the ``git`` CLI (shallow), cached by commit.

``GitSource(url, ref).fetch()`` resolves the ref with ``git ls-remote`` (one round trip), and
only when that commit is not in the cache does it fetch it (``--depth 1``) and check it out
into ``<cache_dir>/<sha>``. An unchanged commit is therefore never fetched twice.

Refs: a branch, a tag (annotated tags are peeled to their commit), a full ``refs/...`` name,
or a 40-hex commit. Without a ref the remote's default branch (its HEAD) is used. The revision
id is ``<branch-or-tag>@sha1:<sha>`` (``sha1:<sha>`` for a bare commit), as Flux reports it.

git runs isolated: no system or global config, a temporary HOME, no terminal prompts, no
hooks, a fixed set of transport protocols, a timeout on every call. http(s) URLs may carry
credentials (``https://user:token@host/…``): git never sees them on its command line (where any
user could read them in the process list); it gets the URL without them, and a credential helper,
configured through environment-only git config (``GIT_CONFIG_COUNT``/``_KEY_n``/``_VALUE_n``) and
scoped to the URL's origin, hands them over from environment variables when the server asks.
Every message passes through ``mask_credentials``. SSH uses only the key file, known-hosts file and
agent socket given (host keys always checked).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
import urllib.parse
from pathlib import Path

from secretsync.sources import Revision, SourceError

__all__ = ["GitSource", "mask_credentials"]

_SHA = re.compile(r"^[0-9a-f]{40}$")
_USERINFO = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


def mask_credentials(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with URL user-info replaced by ``***`` and every given secret string removed."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _USERINFO.sub(r"\1***@", text)


_USERNAME_VAR = "SECRETSYNC_GIT_USERNAME"
_PASSWORD_VAR = "SECRETSYNC_GIT_PASSWORD"
# git runs a "!"-helper with sh; printf is a shell builtin, so no process gets the values as arguments.
_CREDENTIAL_HELPER = (
    f'!f() {{ test "$1" = get || exit 0; '
    f'printf \'username=%s\\npassword=%s\\n\' "${_USERNAME_VAR}" "${_PASSWORD_VAR}"; }}; f'
)


def _split_credentials(url: str) -> tuple[str, tuple[str, str, str] | None]:
    """(URL for git's command line, (origin, username, password) or None) of an http(s) ``url``.

    Other URLs pass unchanged (an ssh user name is not a secret; scp-style has no password)."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return url, None
    if parts.scheme.lower() not in ("http", "https") or "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    username, password = urllib.parse.unquote(username), urllib.parse.unquote(password)
    if any(c in value for value in (username, password) for c in "\n\r\0"):
        raise SourceError(
            f"{mask_credentials(url)}: the credentials in the URL contain a line break or NUL",
            hint="percent-encode only printable characters in the URL's user and password",
        )
    bare = urllib.parse.urlunsplit(parts._replace(netloc=hostport))
    return bare, (f"{parts.scheme.lower()}://{hostport}", username, password)


class GitSource:
    """A Git repository (``file://``, ``https://``, ``ssh://``, scp-style or a local path) at ``ref``."""

    def __init__(
        self,
        url: str,
        ref: str | None = None,
        *,
        cache_dir: Path | None = None,
        timeout: float = 60.0,
        ssh_key_file: str | None = None,
        known_hosts_file: str | None = None,
        ssh_auth_sock: str | None = None,
        git: str = "git",
    ) -> None:
        self.url = url
        self.ref = ref
        self.timeout = timeout
        self.git = git
        self.ssh_key_file = ssh_key_file
        self.known_hosts_file = known_hosts_file
        self.ssh_auth_sock = ssh_auth_sock
        self._owned_cache = cache_dir is None
        self.cache_dir = Path(cache_dir) if cache_dir else Path(tempfile.mkdtemp(prefix="secretsync-git-"))
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self._secrets = self._url_secrets(url)
        self.remote_url, self._credentials = _split_credentials(url)
        self.fetches = 0  # how many times a commit was actually fetched (cache misses)
        self.verified_commits: dict[str, str] = {}  # sha -> key kind that verified it (sources.verify)

    # -- public --------------------------------------------------------------------------------
    def fetch(self, resolved: tuple[str, str | None] | None = None) -> Revision:
        """Resolve the ref (or take ``resolved``, a ``resolve()`` result the caller already has) and return the
        checked-out tree of its commit (from the cache if present)."""
        sha, label = resolved if resolved is not None else self.resolve()
        root = self.cache_dir / sha
        if not root.is_dir():
            self._fetch_commit(sha, label)
        return Revision(root=root, id=f"{label}@sha1:{sha}" if label else f"sha1:{sha}", commit=sha)

    def resolve(self) -> tuple[str, str | None]:
        """(commit sha, branch or tag name) that the ref points to now."""
        ref = self.ref
        if ref and _SHA.match(ref.lower()):
            return ref.lower(), None
        if not ref or ref == "HEAD":
            out = self._run(["ls-remote", "--symref", "--", self.remote_url, "HEAD"], what="list the remote's HEAD")
            sha, branch = None, None
            for line in out.splitlines():
                if line.startswith("ref: ") and "\tHEAD" in line:
                    target = line[5:].split("\t", 1)[0]
                    branch = target.removeprefix("refs/heads/")
                elif line.endswith("\tHEAD"):
                    sha = line.split("\t", 1)[0]
            if not sha:
                raise SourceError(
                    f"{self.display_url}: the repository has no default branch (HEAD)",
                    hint="name a branch, tag or commit with --ref",
                )
            return sha, branch
        patterns = (
            [ref] if ref.startswith("refs/") else [f"refs/heads/{ref}", f"refs/tags/{ref}", f"refs/tags/{ref}^{{}}"]
        )
        out = self._run(["ls-remote", "--", self.remote_url, *patterns], what=f"look up ref {ref!r}")
        found: dict[str, str] = {}
        for line in out.splitlines():
            sha, _, name = line.partition("\t")
            found[name] = sha
        for name in (f"refs/heads/{ref}", f"refs/tags/{ref}^{{}}", f"refs/tags/{ref}", ref):
            if name in found:
                return found[name], ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
        raise SourceError(
            f"{self.display_url}: no branch or tag named {ref!r}", hint="check the ref name, or give a full commit sha"
        )

    @property
    def display_url(self) -> str:
        return mask_credentials(self.url, self._secrets)

    def close(self) -> None:
        """Remove the cache directory if this source created it."""
        if self._owned_cache:
            shutil.rmtree(self.cache_dir, ignore_errors=True)

    def __enter__(self) -> GitSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------------
    def _fetch_commit(self, sha: str, label: str | None) -> None:
        self.fetches += 1
        work = Path(tempfile.mkdtemp(prefix=f".{sha[:12]}-", dir=self.cache_dir))
        try:
            self._run(["init", "-q", str(work)], what="prepare a checkout")
            git_dir = ["-C", str(work)]
            try:
                self._run(
                    [*git_dir, "fetch", "-q", "--depth", "1", "--no-tags", "--", self.remote_url, sha],
                    what=f"fetch commit {sha[:12]}",
                )
            except SourceError:
                if not label:
                    raise
                # Servers that refuse a want by sha: fetch the ref itself (it still points there, or moved).
                self._run(
                    [*git_dir, "fetch", "-q", "--depth", "1", "--no-tags", "--", self.remote_url, label],
                    what=f"fetch {label}",
                )
            fetched = self._run([*git_dir, "rev-parse", "FETCH_HEAD"], what="read the fetched commit").strip()
            if fetched != sha:
                raise SourceError(
                    f"{self.display_url}: {label or sha} moved while fetching",
                    hint="retry; the next reconcile picks up the new commit",
                )
            self._run(
                [*git_dir, "-c", "advice.detachedHead=false", "checkout", "-q", "--detach", sha],
                what=f"check out {sha[:12]}",
            )
            shutil.rmtree(work / ".git")
            try:
                os.replace(work, self.cache_dir / sha)
            except OSError:
                if not (self.cache_dir / sha).is_dir():  # else another process cached it first: keep theirs
                    raise
        finally:
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)

    def git_env(self, home: str) -> dict[str, str]:
        """The isolated environment every git call for this source runs with (``home`` a fresh
        temporary directory): no user or system config, no prompts, the SSH options given, and the
        URL's credentials (if any) behind an origin-scoped credential helper. It may hold a
        credential: pass it only to git processes, never log it."""
        ssh = ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]
        if self.ssh_key_file:
            ssh += ["-i", self.ssh_key_file, "-o", "IdentitiesOnly=yes"]
        if self.known_hosts_file:
            ssh += ["-o", f"UserKnownHostsFile={self.known_hosts_file}"]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": home,
            "LC_ALL": "C",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "true",
            "SSH_ASKPASS": "true",
            "GIT_ALLOW_PROTOCOL": "file:https:http:ssh:git",
            "GIT_SSH_COMMAND": " ".join(shlex.quote(part) for part in ssh),
        }
        if self.ssh_auth_sock:
            env["SSH_AUTH_SOCK"] = self.ssh_auth_sock
        if self._credentials is not None:
            origin, username, password = self._credentials
            env.update(
                {
                    "GIT_CONFIG_COUNT": "1",
                    "GIT_CONFIG_KEY_0": f"credential.{origin}.helper",
                    "GIT_CONFIG_VALUE_0": _CREDENTIAL_HELPER,
                    _USERNAME_VAR: username,
                    _PASSWORD_VAR: password,
                }
            )
        return env

    def _run(self, args: list[str], *, what: str) -> str:
        with tempfile.TemporaryDirectory(prefix="secretsync-git-home-") as home:
            cmd = [self.git, "-c", "core.hooksPath=/dev/null", "-c", "protocol.version=2", *args]
            try:
                proc = subprocess.run(
                    cmd,
                    env=self.git_env(home),
                    capture_output=True,
                    timeout=self.timeout,
                    check=False,
                    stdin=subprocess.DEVNULL,
                )
            except subprocess.TimeoutExpired:
                raise SourceError(
                    f"{self.display_url}: git took longer than {self.timeout:g}s to {what}",
                    hint="check that the repository is reachable, or raise the timeout",
                ) from None
            except FileNotFoundError:
                raise SourceError(
                    f"cannot {what}: the git program ({self.git!r}) is not installed", hint="install git"
                ) from None
        if proc.returncode != 0:
            detail = [line.strip() for line in proc.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
            telling = [line for line in detail if line.startswith(("fatal:", "error:", "ssh:"))]
            reason = "; ".join(telling or detail[-1:]) or f"exit code {proc.returncode}"
            reason = mask_credentials(reason, self._secrets)[:400]
            raise SourceError(
                f"{self.display_url}: cannot {what}: {reason}", hint="check the URL, the ref and the credentials"
            )
        return proc.stdout.decode("utf-8", "replace")

    @staticmethod
    def _url_secrets(url: str) -> tuple[str, ...]:
        try:
            parts = urllib.parse.urlsplit(url)
        except ValueError:
            return ()
        secrets = []
        for value in (parts.password, parts.username if parts.password is None and parts.scheme != "ssh" else None):
            if value:
                secrets += [value, urllib.parse.unquote(value)]
        return tuple(s for s in secrets if len(s) >= 3)
