"""secretsync.sources: Git (real git, bare repos over file:// and plain paths) and local folders.

Covers: default branch, branches, annotated and lightweight tags, commits, full ref names;
revision ids ``branch@sha1:<sha>``; shallow fetch (``--depth 1``); the commit cache (an
unchanged commit is never fetched again, proven by counting git invocations through a
logging wrapper, also across sources sharing a cache dir); the Renderer's document cache
(unchanged revision never walked or built twice); isolation of git's environment; timeouts;
credentials masked in messages; symlinks in a repository leaving the root; open_source.
Smart HTTP with Basic auth (``git http-backend`` on 127.0.0.1) for the http(s) transport.
Not covered: ssh (no sshd here) and TLS (the same transport code as http).
"""

from __future__ import annotations

import os
import stat
import subprocess

import pytest

from secretsync.render.pipeline import Renderer, RenderOptions
from secretsync.sources import SourceError, open_source
from secretsync.sources.git import GitSource, mask_credentials
from secretsync.sources.local import LocalSource
from tests.fixtures.peers import peer_binary

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  v: '{v}'\n"


@pytest.fixture
def logged_git(tmp_path):
    """A git wrapper that logs each call's arguments and isolation variables, then runs the real git."""
    log = tmp_path / "git.log"
    wrapper = tmp_path / "git-wrapper"
    wrapper.write_text(f"""#!/bin/sh
echo "ARGS $*" >> {log}
echo "ENV HOME=$HOME NOSYSTEM=$GIT_CONFIG_NOSYSTEM PROMPT=$GIT_TERMINAL_PROMPT GLOBAL=$GIT_CONFIG_GLOBAL" >> {log}
exec {peer_binary("git")} "$@"
""")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)

    class Log:
        path = str(wrapper)

        def calls(self, word: str) -> int:
            if not log.exists():
                return 0
            return sum(
                1 for line in log.read_text().splitlines() if line.startswith("ARGS") and f" {word} " in f"{line} "
            )

        def text(self) -> str:
            return log.read_text() if log.exists() else ""

        def clear(self) -> None:
            if log.exists():
                log.unlink()

    return Log()


@pytest.fixture
def repo(gitrepo):
    r = gitrepo("demo")
    r.first = r.commit({"a.yaml": CM.format(name="a", v=1)}, "first")
    r.tag("v1")
    r.tag("light", annotated=False)
    r.second = r.commit({"a.yaml": CM.format(name="a", v=2), "b/b.yaml": CM.format(name="b", v=1)}, "second")
    r.branch("release", r.first)
    return r


def content(revision) -> dict[str, str]:
    return {p.relative_to(revision.root).as_posix(): p.read_text() for p in sorted(revision.root.rglob("*.yaml"))}


@pytest.mark.peer
@pytest.mark.parametrize(
    "ref, label, which",
    [
        (None, "main", "second"),
        ("main", "main", "second"),
        ("refs/heads/main", "main", "second"),
        ("release", "release", "first"),
        ("v1", "v1", "first"),
        ("light", "light", "first"),
    ],
)
def test_refs_resolve_to_the_right_commit(repo, tmp_path, ref, label, which):
    sha = getattr(repo, which)
    with GitSource(repo.url, ref, cache_dir=tmp_path / "cache") as source:
        revision = source.fetch()
    assert revision.id == f"{label}@sha1:{sha}" and revision.commit == sha
    expected = {"a.yaml": CM.format(name="a", v=1 if which == "first" else 2)}
    if which == "second":
        expected["b/b.yaml"] = CM.format(name="b", v=1)
    assert content(revision) == expected
    assert not (revision.root / ".git").exists()


@pytest.mark.peer
def test_commit_ref_and_plain_bare_path(repo, tmp_path):
    source = open_source(str(repo.path), ref=repo.first, cache_dir=tmp_path / "c")
    assert isinstance(source, GitSource)
    revision = source.fetch()
    assert revision.id == f"sha1:{repo.first}"
    assert content(revision) == {"a.yaml": CM.format(name="a", v=1)}


@pytest.mark.peer
def test_shallow_fetch_and_commit_cache(repo, tmp_path, logged_git):
    cache = tmp_path / "cache"
    source = GitSource(repo.url, "main", cache_dir=cache, git=logged_git.path)
    first = source.fetch()
    assert logged_git.calls("fetch") == 1 and "--depth 1" in logged_git.text()
    logged_git.clear()
    again = source.fetch()
    assert again == first
    assert logged_git.calls("ls-remote") == 1 and logged_git.calls("fetch") == 0  # cache hit: no fetch
    # A second source sharing the cache directory does not fetch either.
    other = GitSource(repo.url, "main", cache_dir=cache, git=logged_git.path)
    other.fetch()
    assert logged_git.calls("fetch") == 0 and other.fetches == 0
    # A new commit is fetched once.
    new = repo.commit({"c.yaml": CM.format(name="c", v=1)}, "third")
    logged_git.clear()
    revision = source.fetch()
    assert revision.commit == new and logged_git.calls("fetch") == 1 and source.fetches == 2


@pytest.mark.peer
def test_git_runs_isolated(repo, tmp_path, logged_git):
    GitSource(repo.url, "main", cache_dir=tmp_path / "c", git=logged_git.path).fetch()
    env_lines = [line for line in logged_git.text().splitlines() if line.startswith("ENV")]
    assert env_lines
    for line in env_lines:
        assert "NOSYSTEM=1" in line and "PROMPT=0" in line and f"GLOBAL={os.devnull}" in line
        assert f"HOME={os.environ.get('HOME')} " not in line + " "


@pytest.mark.peer
def test_renderer_never_builds_an_unchanged_revision_twice(repo, tmp_path):
    source = GitSource(repo.url, "main", cache_dir=tmp_path / "c")
    renderer = Renderer(options=RenderOptions())
    first = renderer.render(source)
    second = renderer.render(source)
    assert first.ok and second.ok and renderer.builds == 1
    assert [o["data"]["v"] for o in second.objects()] == ["2", "1"]
    repo.commit({"a.yaml": CM.format(name="a", v=3)}, "change")
    third = renderer.render(source)
    assert renderer.builds == 2 and third.objects()[0]["data"]["v"] == "3"
    assert third.revision.id != first.revision.id


@pytest.mark.peer
def test_unknown_ref_and_no_default_branch(repo, gitrepo, tmp_path):
    with pytest.raises(SourceError, match="no branch or tag named 'nope'"):
        GitSource(repo.url, "nope", cache_dir=tmp_path / "c").fetch()
    empty = gitrepo("empty")
    with pytest.raises(SourceError, match="no default branch"):
        GitSource(empty.url, cache_dir=tmp_path / "c").fetch()


@pytest.mark.peer
def test_credentials_are_masked_in_errors(tmp_path):
    url = "https://deploy:canary-t0ken-9f8e@127.0.0.1:9/org/repo.git"
    with pytest.raises(SourceError) as info:
        GitSource(url, "main", cache_dir=tmp_path / "c", timeout=20).fetch()
    text = info.value.report()
    assert "canary-t0ken-9f8e" not in text and "deploy:" not in text
    assert "https://***@127.0.0.1:9/org/repo.git" in text


def test_mask_credentials():
    assert (
        mask_credentials("fatal: https://u:p%40ss@h/x and ssh://git@h/x") == "fatal: https://***@h/x and ssh://***@h/x"
    )
    assert mask_credentials("token abcdef in text", ("abcdef",)) == "token *** in text"


@pytest.mark.peer
def test_git_timeout(tmp_path, repo):
    slow = tmp_path / "slow-git"
    slow.write_text("#!/bin/sh\nsleep 5\n")
    slow.chmod(0o755)
    with pytest.raises(SourceError, match="longer than 0.5s"):
        GitSource(repo.url, "main", cache_dir=tmp_path / "c", git=str(slow), timeout=0.5).fetch()


@pytest.mark.peer
def test_symlink_in_repository_leaving_root_is_refused(gitrepo, tmp_path):
    r = gitrepo("links")
    r.commit({"ok.yaml": CM.format(name="ok", v=1)})
    r.symlink("evil.yaml", "/etc/passwd")
    result = Renderer().render(GitSource(r.url, "main", cache_dir=tmp_path / "c"))
    assert not result.ok
    assert [o.file for o in result.errors] == ["evil.yaml"]
    assert "symlink leads outside the source root" in result.errors[0].describe()


def test_local_source_and_open_source(tmp_path):
    (tmp_path / "a.yaml").write_text(CM.format(name="a", v=1))
    source = open_source(str(tmp_path))
    assert isinstance(source, LocalSource)
    first = source.fetch()
    assert first.id.startswith("local@sha256:") and first.commit is None
    (tmp_path / "a.yaml").write_text(CM.format(name="a", v=2))
    assert source.fetch().id != first.id
    with pytest.raises(SourceError, match="--ref needs a Git repository"):
        open_source(str(tmp_path), ref="main")
    with pytest.raises(SourceError, match="not a directory"):
        LocalSource(tmp_path / "missing").fetch()


def test_local_revision_changes_with_every_file_kustomize_may_read(tmp_path):
    """A kustomization may read dotfiles (secretGenerator envs: [.env]): editing one must change the
    revision id, or the Renderer's document cache (keyed by it) serves the old build."""
    (tmp_path / "kustomization.yaml").write_text("secretGenerator:\n- name: s\n  envs: [.env]\n")
    (tmp_path / ".env").write_text("A=1\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "index").write_text("x")
    source = LocalSource(tmp_path)
    renderer = Renderer()
    first = source.fetch()
    before = renderer.documents(first).documents[0].object["data"]
    (tmp_path / ".env").write_text("A=2\n")
    second = source.fetch()
    assert second.id != first.id
    assert renderer.documents(second).documents[0].object["data"] != before
    (tmp_path / ".git" / "index").write_text("y")  # Git's own files are not content
    assert source.fetch().id == second.id


@pytest.fixture
def git_http(repo, tmp_path):
    """``git http-backend`` (smart HTTP) behind Basic auth on 127.0.0.1, serving the ``repo`` fixture."""
    import base64
    import http.server
    import threading

    www = tmp_path / "www"
    (www / "cgi-bin").mkdir(parents=True)
    script = www / "cgi-bin" / "git"
    script.write_text(
        f"#!/bin/sh\nexport GIT_PROJECT_ROOT={repo.path.parent} GIT_HTTP_EXPORT_ALL=1\n"
        f"exec {peer_binary('git')} http-backend\n"
    )
    script.chmod(0o755)
    expected = "Basic " + base64.b64encode(b"deploy:canary-http-t0ken").decode()

    class Handler(http.server.CGIHTTPRequestHandler):
        cgi_directories = ["/cgi-bin"]
        have_fork = False  # run the CGI with subprocess, as the current user

        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(www), **kwargs)

        def send_head(self):
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            if self.is_cgi():
                return self.run_cgi()
            self.send_error(404)
            return None

        def do_POST(self):
            self.send_head()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}/cgi-bin/git/{repo.path.name}"
    server.shutdown()
    server.server_close()


@pytest.mark.peer
def test_smart_http_with_credentials(repo, git_http, tmp_path):
    source = GitSource(f"http://deploy:canary-http-t0ken@{git_http}", "main", cache_dir=tmp_path / "c")
    revision = source.fetch()
    assert revision.id == f"main@sha1:{repo.second}" and (revision.root / "b" / "b.yaml").is_file()
    by_sha = GitSource(f"http://deploy:canary-http-t0ken@{git_http}", repo.first, cache_dir=tmp_path / "c2").fetch()
    assert by_sha.id == f"sha1:{repo.first}"
    with pytest.raises(SourceError) as info:
        GitSource(f"http://deploy:wrong-canary-pw@{git_http}", "main", cache_dir=tmp_path / "c3").fetch()
    text = info.value.report()
    assert "wrong-canary-pw" not in text and "deploy:" not in text and f"http://***@{git_http}" in text


@pytest.fixture
def traced_git(tmp_path):
    """Every git process, children included, logs its argv: ``git`` and each program of git's exec
    path (``git-remote-http``, ``git-fetch-pack``, ...) are wrapped, and the wrapped ``git`` points
    ``GIT_EXEC_PATH`` at the wrappers, so the processes git starts itself are logged too."""
    real = peer_binary("git")
    exec_path = subprocess.run([real, "--exec-path"], capture_output=True, text=True, check=True).stdout.strip()
    wrappers, log = tmp_path / "git-core", tmp_path / "argv.log"
    wrappers.mkdir()
    for name in os.listdir(exec_path):
        target = os.path.join(exec_path, name)
        if os.path.isfile(target) and os.access(target, os.X_OK):
            wrapper = wrappers / name
            wrapper.write_text(
                f'#!/bin/sh\nprintf \'%s\\n\' "{name} $*" >> {log}\nGIT_EXEC_PATH={wrappers} exec {target} "$@"\n'
            )
            wrapper.chmod(0o755)
    return wrappers / "git", log


@pytest.mark.peer
def test_url_credentials_never_reach_a_command_line(repo, git_http, tmp_path, traced_git):
    """The token of an http URL reaches the server (the fetch works) but no git process's argv."""
    git, log = traced_git
    source = GitSource(f"http://deploy:canary-http-t0ken@{git_http}", "main", cache_dir=tmp_path / "c", git=str(git))
    assert source.fetch().id == f"main@sha1:{repo.second}"
    calls = log.read_text()
    assert "canary-http-t0ken" not in calls and "deploy" not in calls
    assert "remote-http" in calls and "fetch-pack" in calls  # the processes git started itself were traced
    env = source.git_env(str(tmp_path))
    assert (
        "canary-http-t0ken" not in env["GIT_CONFIG_VALUE_0"] and env["SECRETSYNC_GIT_PASSWORD"] == "canary-http-t0ken"
    )
    assert env["GIT_CONFIG_KEY_0"] == f"credential.http://{git_http.split('/')[0]}.helper"  # scoped to the origin
    assert source.remote_url == f"http://{git_http}" and source.display_url == f"http://***@{git_http}"


def test_only_http_urls_have_their_credentials_split_off(tmp_path):
    source = GitSource("https://us%40er:p%3Ass@git.example.test:8443/org/repo.git", cache_dir=tmp_path)
    assert source.remote_url == "https://git.example.test:8443/org/repo.git"
    env = source.git_env(str(tmp_path))
    assert (env["SECRETSYNC_GIT_USERNAME"], env["SECRETSYNC_GIT_PASSWORD"]) == ("us@er", "p:ss")
    for url in ("ssh://git@host/repo.git", "git@host:repo.git", "file:///srv/repo.git", "https://host/repo.git"):
        plain = GitSource(url, cache_dir=tmp_path)
        assert plain.remote_url == url and "GIT_CONFIG_COUNT" not in plain.git_env(str(tmp_path))
    with pytest.raises(SourceError) as info:
        GitSource("https://u:bad%0Apass@host/r.git", cache_dir=tmp_path)
    assert "bad" not in str(info.value)


@pytest.mark.peer
def test_ssh_runs_non_interactive_with_given_files(tmp_path):
    """The real ssh client, a closed loopback port: fails fast with git's reason, never prompts."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    known = tmp_path / "known hosts"  # a space in the path: the ssh command must quote it
    known.write_text("")
    source = GitSource(
        f"ssh://git@127.0.0.1:{port}/repo.git",
        "main",
        cache_dir=tmp_path / "c",
        timeout=20,
        ssh_key_file=str(tmp_path / "no-key"),
        known_hosts_file=str(known),
    )
    with pytest.raises(SourceError, match="Connection refused|Could not read from remote"):
        source.fetch()
    assert "UserKnownHostsFile=" in source.git_env(str(tmp_path))["GIT_SSH_COMMAND"]
