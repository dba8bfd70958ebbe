"""Reconcile benchmark: 5,000 objects (1,000 Secrets from sops and SealedSecrets) against the API emulator.

Builds, under a private temp dir (also TMPDIR for every child process), a repository of N objects:
10 Namespaces, N/5 Secrets (half in multi-document sops files encrypted by the real ``sops``
binary to a throwaway ``age-keygen`` key, half SealedSecrets sealed to a fresh sealing key), and
ConfigMaps, ServiceAccounts, Services, Roles and RoleBindings for the rest. Then, with the
emulator in this process (127.0.0.1, requests counted inside it by verb):

1. render time (walk, sops decryption with MAC check, unsealing), cold and for an unchanged revision
   whose parsed documents the renderer keeps (decryption runs again, as in the agent);
2. full apply (first ``reconcile``: every object created, inventory written);
3. no-op reconcile (render + plan + prune check): requests by verb, goal zero writes and about one
   list per kind;
4. the peer way of proving a no-op, one server-side dry-run per object (what Flux's
   kustomize-controller does), timed on a sample and scaled to N, as a ratio to ours;
5. the plaintext canary check: no Secret value (each holds a unique canary) in the DEBUG logs,
   in any file under the working/temp dir, or in any annotation or label of any live object.

Usage: .venv/bin/python bench/reconcile.py [N] [DRY_RUN_SAMPLE]   (defaults 5000, 500; loopback only)
"""

from __future__ import annotations

import base64
import io
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NAMESPACES = 10
SOPS_DOCS_PER_FILE = 50


def tool(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def canary(i: int) -> str:
    return f"bench-canary-{i:05d}-plaintext"


def build_repo(tmp: Path, n: int) -> tuple[Path, Path, Path, list[str]]:
    from secretsync.manifests.dump import dump_all
    from secretsync.sealing.keyring import FileKeyStore, Keyring, generate_key, key_secret
    from secretsync.sealing.objects import seal_secret

    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp), "TMPDIR": str(tmp), "SOPS_DISABLE_VERSION_CHECK": "1"}
    keyfile = tmp / "age.txt"
    subprocess.run([tool("age-keygen"), "-o", str(keyfile)], check=True, capture_output=True, env=env)
    recipient = next(line.split(": ")[1] for line in keyfile.read_text().splitlines() if "public key" in line)
    key_dir = tmp / "sealing-keys"
    FileKeyStore(key_dir).put(key_secret(generate_key(bits=2048, name="sealed-secrets-keybench")))
    cert = Keyring.from_dir(key_dir).newest().certificate
    repo = tmp / "repo"
    repo.mkdir()
    secrets_n = n // 5
    values: list[str] = []
    ns = [f"bench-{i}" for i in range(NAMESPACES)]
    (repo / "namespaces.yaml").write_text(
        "".join(f"---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {x}\n" for x in ns)
    )
    sops_n = secrets_n // 2
    for start in range(0, sops_n, SOPS_DOCS_PER_FILE):
        docs = []
        for i in range(start, min(start + SOPS_DOCS_PER_FILE, sops_n)):
            values.append(canary(i))
            docs.append(
                f"---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: sops-{i}\n  namespace: {ns[i % 10]}\n"
                f"stringData:\n  password: {canary(i)}\n  user: user-{i}\n"
            )
        plain = tmp / "sops-input.yaml"  # sops reads its input from a file; removed right after
        plain.write_text("".join(docs))
        out = subprocess.run(
            [
                tool("sops"),
                "--disable-version-check",
                "encrypt",
                "--age",
                recipient,
                "--encrypted-regex",
                "^(data|stringData)$",
                str(plain),
            ],
            check=True,
            capture_output=True,
            env=env,
        ).stdout
        plain.unlink()
        (repo / f"secrets-{start // SOPS_DOCS_PER_FILE:03d}.sops.yaml").write_bytes(out)
    sealed = []
    for i in range(sops_n, secrets_n):
        values.append(canary(i))
        sealed.append(
            seal_secret(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": f"sealed-{i}", "namespace": ns[i % 10]},
                    "data": {"token": base64.b64encode(canary(i).encode()).decode()},
                },
                cert,
            )
        )
    (repo / "sealed.yaml").write_text(dump_all(sealed))
    rest = n - NAMESPACES - secrets_n
    plan = {"ServiceAccount": rest // 8, "Service": rest // 8, "Role": rest // 16, "RoleBinding": rest // 16}
    plan["ConfigMap"] = rest - sum(plan.values())
    for kind, count in plan.items():
        docs = []
        for i in range(count):
            meta = f"metadata:\n  name: {kind.lower()}-{i}\n  namespace: {ns[i % 10]}\n"
            if kind == "ConfigMap":
                body = f"apiVersion: v1\nkind: ConfigMap\n{meta}data:\n  key: value-{i}\n"
            elif kind == "ServiceAccount":
                body = f"apiVersion: v1\nkind: ServiceAccount\n{meta}"
            elif kind == "Service":
                body = (
                    f"apiVersion: v1\nkind: Service\n{meta}spec:\n  selector:\n    app: a{i}\n  ports:\n"
                    f"    - port: 80\n      targetPort: 8080\n"
                )
            elif kind == "Role":
                body = (
                    f"apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\n{meta}rules:\n"
                    f"  - apiGroups: ['']\n    resources: [configmaps]\n    verbs: [get, list]\n"
                )
            else:
                body = (
                    f"apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n{meta}roleRef:\n"
                    f"  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: role-{i}\nsubjects:\n"
                    f"  - kind: ServiceAccount\n    name: serviceaccount-{i}\n    namespace: {ns[i % 10]}\n"
                )
            docs.append("---\n" + body)
        (repo / f"{kind.lower()}s.yaml").write_text("".join(docs))
    return repo, keyfile, key_dir, values


def main(n: int, sample: int) -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-reconcile-"))
    tempfile.tempdir = str(work)  # our own temp files land here too, and get scanned
    os.environ["TMPDIR"] = str(work)
    log_buffer = io.StringIO()
    handler = logging.StreamHandler(log_buffer)
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.DEBUG)
    logging.getLogger("secretsync_emulator").setLevel(logging.WARNING)  # the emulator's own access noise

    from secretsync.kube.apply import ApplyOptions
    from secretsync.kube.client import KubeClient
    from secretsync.kube.inventory import ApplySet
    from secretsync.reconcile import ApplySetStore, ReconcileOptions, reconcile_rendered
    from secretsync.render.pipeline import Dependencies, Renderer, RenderOptions
    from secretsync.sealing.keyring import Keyring
    from secretsync.sops.identities import load_keys
    from secretsync.sources.local import LocalSource
    from secretsync_emulator import APIServer

    started = time.perf_counter()
    repo, keyfile, key_dir, values = build_repo(work, n)
    print(f"setup: {n} objects ({len(values)} Secrets: sops + SealedSecrets) in {time.perf_counter() - started:.1f}s")

    server = APIServer().start()
    counts = server.requests  # the emulator's own request counter
    writes_of = {"create", "update", "patch", "delete"}
    kubeconfig = server.write_kubeconfig(work / "kubeconfig")
    client = KubeClient.from_kubeconfig(str(kubeconfig))
    deps = Dependencies(sops_keys=load_keys(keyfile, env={}, use_defaults=False), keyring=Keyring.from_dir(key_dir))
    renderer = Renderer(deps, RenderOptions())  # as the agent: documents of an unchanged revision are cached
    store = ApplySetStore(ApplySet(client, "bench", "default"))
    opts = ReconcileOptions(prune=True, timeout=120)

    try:
        started = time.perf_counter()
        rendered = renderer.render(LocalSource(repo))
        render_s = time.perf_counter() - started
        objects = rendered.objects()
        assert len(objects) == n, len(objects)
        kinds = len({(o["apiVersion"], o["kind"]) for o in objects})
        print(f"render: {render_s:.2f}s ({render_s / n * 1000:.2f} ms/object)")

        counts.reset()
        started = time.perf_counter()
        result = reconcile_rendered(rendered, client, store, opts)
        full_s = time.perf_counter() - started
        assert result.ok, result.error and result.error.report()
        print(
            f"full apply: {full_s:.2f}s ({full_s / n * 1000:.2f} ms/object); {result.changes.summary()}; "
            f"requests {dict(sorted(counts.by('verb').items()))}"
        )

        counts.reset()
        started = time.perf_counter()
        rendered = renderer.render(LocalSource(repo))
        cached_render_s = time.perf_counter() - started
        started = time.perf_counter()
        result = reconcile_rendered(rendered, client, store, opts)
        noop_apply_s = time.perf_counter() - started
        assert result.ok, result.error and result.error.report()
        noop_counts = dict(sorted(counts.by("verb").items()))
        writes = counts.count(verb=writes_of, dry_run=False)
        print(
            f"no-op reconcile: render of the unchanged revision (documents cached, decryption again) "
            f"{cached_render_s:.2f}s + plan and prune check {noop_apply_s:.2f}s; {result.changes.summary()}; "
            f"requests {noop_counts}; writes={writes}; requests/kinds = {counts.count()}/{kinds}"
        )
        print(f"ratio no-op plan/full apply = {noop_apply_s / full_s:.3f}")

        # the peer's way: one server-side dry-run per object (Flux kustomize-controller), on a sample
        from secretsync.kube.plan import prepare

        aopts = ApplyOptions(client=client, owner_labels=store.owner_labels)
        chosen = objects[:: max(1, n // sample)][:sample]
        started = time.perf_counter()
        for obj in chosen:
            client.apply(prepare(obj, aopts.owner_labels), field_manager="secretsync", force=True, dry_run=True)
        per = (time.perf_counter() - started) / len(chosen)
        print(
            f"peer way (dry-run per object, Flux): {per * 1000:.2f} ms/object x {n} = {per * n:.2f}s "
            f"(sampled {len(chosen)}); ratio ours/dry-run-per-object for the apply step = "
            f"{noop_apply_s / (per * n):.3f}"
        )

        # canary check
        needles = [v.encode() for v in values] + [base64.b64encode(v.encode()) for v in values]
        logging.getLogger().removeHandler(handler)
        leaks = []
        text = log_buffer.getvalue().encode()
        leaks += [f"log:{n_!r}" for n_ in needles if n_ in text]
        scanned = 0
        for path in work.rglob("*"):
            if path.is_file():
                scanned += 1
                data = path.read_bytes()
                leaks += [f"{path}" for n_ in needles if n_ in data][:1]
        live_objects = 0
        for api_version, kind in sorted({(o["apiVersion"], o["kind"]) for o in objects} | {("v1", "Secret")}):
            for obj in client.list(api_version, kind)["items"]:
                live_objects += 1
                meta = obj.get("metadata") or {}
                blob = (repr(meta.get("annotations")) + repr(meta.get("labels"))).encode()
                leaks += [f"{kind}/{meta.get('name')}" for n_ in needles if n_ in blob][:1]
        print(
            f"plaintext canary: {len(values)} values x (text, base64) over {len(text)} bytes of DEBUG logs, "
            f"{scanned} files under {work}, annotations/labels of {live_objects} live objects: "
            f"{'LEAK ' + ', '.join(leaks[:5]) if leaks else 'none found'}"
        )
        return 1 if leaks else 0
    finally:
        client.close()
        server.stop()
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000, int(sys.argv[2]) if len(sys.argv) > 2 else 500))
