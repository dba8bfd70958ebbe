"""Render step benchmark: decrypting a repository of sops Secrets, and re-rendering an unchanged commit.

Builds (under a temp dir, throwaway age key from ``age-keygen``) a folder of N sops-encrypted
Secrets (real ``sops`` binary) plus N plain ConfigMaps, then prints:

1. ``sops decrypt`` run once per file (the peer, what a shell loop or a plugin per file costs),
   against ``secretsync.render.pipeline`` rendering the whole folder (walk, parse, decrypt with the MAC
   checked, normalise) — as a ratio;
2. the same tree committed to a bare Git repository: first render of the commit (ls-remote +
   shallow fetch + walk) against a second render of the unchanged commit (ls-remote only, no fetch,
   documents from the cache), with the number of git fetches;
3. manifest loading alone (``manifests.load_manifests``: go-yaml v2 typing, duplicate-key, depth and
   alias guards) over the tree's files plus N SealedSecret-shaped documents with 2 KiB ciphertexts,
   against the floor of plain ``yaml.load_all`` with libyaml (``CSafeLoader``: no typing rules, no
   guards) and against the pure-Python reference loader our fast path must agree with.

Usage: .venv/bin/python bench/render.py [N]   (default 200; bounded, loopback/file only)
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from secretsync.manifests import loader as manifests  # noqa: E402
from secretsync.render.pipeline import Dependencies, Renderer, RenderOptions  # noqa: E402
from secretsync.sops.identities import load_keys  # noqa: E402
from secretsync.sources.git import GitSource  # noqa: E402
from secretsync.sources.local import LocalSource  # noqa: E402


def tool(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def main(n: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        tmp = Path(tmp)
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp), "SOPS_DISABLE_VERSION_CHECK": "1"}
        keyfile = tmp / "age.txt"
        subprocess.run([tool("age-keygen"), "-o", str(keyfile)], check=True, capture_output=True, env=env)
        recipient = next(l.split(": ")[1] for l in keyfile.read_text().splitlines() if "public key" in l)
        repo = tmp / "repo"
        (repo / "secrets").mkdir(parents=True)
        (repo / "config").mkdir()
        template = tmp / "t.yaml"
        started = time.perf_counter()
        for i in range(n):
            template.write_text(
                f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s{i}\n  namespace: bench\n"
                f"stringData:\n  password: bench-value-{i}\n  user: u{i}\n"
            )
            out = subprocess.run(
                [
                    tool("sops"),
                    "--disable-version-check",
                    "encrypt",
                    "--age",
                    recipient,
                    "--encrypted-regex",
                    "^(data|stringData)$",
                    str(template),
                ],
                check=True,
                capture_output=True,
                env=env,
            ).stdout
            (repo / "secrets" / f"s{i:04}.yaml").write_bytes(out)
            (repo / "config" / f"c{i:04}.yaml").write_text(
                f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\n  namespace: bench\ndata:\n  k: v{i}\n"
            )
        template.unlink()
        print(f"setup: {n} sops Secrets + {n} ConfigMaps in {time.perf_counter() - started:.1f}s")

        # 1. peer: sops decrypt per file
        env_dec = {**env, "SOPS_AGE_KEY_FILE": str(keyfile)}
        started = time.perf_counter()
        for path in sorted((repo / "secrets").iterdir()):
            subprocess.run(
                [tool("sops"), "--disable-version-check", "decrypt", str(path)],
                check=True,
                capture_output=True,
                env=env_dec,
            )
        peer = time.perf_counter() - started

        keys = load_keys(keyfile, env={}, use_defaults=False)
        started = time.perf_counter()
        result = Renderer(Dependencies(sops_keys=keys), RenderOptions(), cache_size=0).render(LocalSource(repo))
        ours = time.perf_counter() - started
        assert result.ok and len(result.objects()) == 2 * n
        print(
            f"decrypt {n} sops files: sops binary per file {peer:.2f}s ({peer / n * 1000:.1f} ms/file); "
            f"secretsync render of the folder ({2 * n} objects) {ours:.2f}s ({ours / n * 1000:.1f} ms/Secret); "
            f"ratio secretsync/sops = {ours / peer:.2f}"
        )

        # 2. unchanged commit: cache hit
        bare = tmp / "repo.git"
        git = ["git", "-c", "user.name=b", "-c", "user.email=b@b"]
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True, env=env)
        subprocess.run([*git, "-C", str(repo), "init", "-q", "-b", "main"], check=True, env=env)
        subprocess.run([*git, "-C", str(repo), "add", "."], check=True, env=env)
        subprocess.run([*git, "-C", str(repo), "commit", "-q", "-m", "bench"], check=True, env=env)
        subprocess.run([*git, "-C", str(repo), "push", "-q", str(bare), "main"], check=True, env=env)
        source = GitSource(bare.as_uri(), "main", cache_dir=tmp / "cache")
        renderer = Renderer(Dependencies(sops_keys=keys))
        started = time.perf_counter()
        assert renderer.render(source).ok
        first = time.perf_counter() - started
        started = time.perf_counter()
        assert renderer.render(source).ok
        second = time.perf_counter() - started
        print(
            f"git render, first {first:.2f}s (fetches={source.fetches}, builds={renderer.builds}); unchanged "
            f"commit again {second:.2f}s (fetches={source.fetches}, builds={renderer.builds}); "
            f"ratio second/first = {second / first:.2f} (decryption still runs each time, by design)"
        )

        # 3. manifest loading alone
        sealed = "".join(
            f"---\napiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: s{i}\n  namespace: bench\n"
            f"spec:\n  encryptedData:\n    token: {base64.b64encode(os.urandom(1536)).decode()}\n"
            f"  template:\n    metadata:\n      name: s{i}\n"
            for i in range(n)
        )
        files = [p.read_bytes() for p in sorted(repo.rglob("*.yaml")) if ".git" not in p.parts]
        files.append(sealed.encode())
        timings = {}
        for name, load in (
            ("ours", lambda d: manifests.load_manifests(d, "f")),
            ("libyaml", lambda d: list(yaml.load_all(d, Loader=yaml.CSafeLoader))),
            ("pure", lambda d: list(manifests._load_yaml_stream(d.decode(), "f", manifests.Limits()))),
        ):
            started = time.perf_counter()
            for data in files:
                load(data)
            timings[name] = time.perf_counter() - started
        print(
            f"load {len(files)} files ({sum(map(len, files)) / 1e6:.1f} MB, incl. {n} SealedSecrets): "
            f"load_manifests {timings['ours']:.2f}s, plain CSafeLoader {timings['libyaml']:.2f}s, pure-Python "
            f"reference {timings['pure']:.2f}s; ratio ours/CSafeLoader = {timings['ours'] / timings['libyaml']:.2f}, "
            f"ours/pure = {timings['ours'] / timings['pure']:.2f}"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
