"""``secretsync demo``: the README's first command - the whole agent, live, on a throwaway cluster.

On a fresh machine, in one process and a temporary directory that is removed at the end:

1. starts the Kubernetes API emulator (``secretsync_emulator.APIServer``) on 127.0.0.1 and, when
   the ``bao`` binary is installed (the ``demo`` extra), an OpenBao dev server
   (``secretsync_emulator.openbao``) with the values of ``examples/templates/vault-values.yaml``;
2. makes throwaway keys: an age identity (sops) and a sealing key (Sealed Secrets);
3. prepares the demo repository from ``examples/`` (``secretsync_emulator.examples``): the sops
   templates encrypted to the age key (secretsync's own sops implementation, in memory), the
   SealedSecret sealed to the certificate; the keys go into the cluster as the agent expects
   them (Flux's ``sops-age`` Secret with an ``age.agekey`` entry; the sealing key as the
   controller's key Secret);
4. installs the CRDs, creates a ``Sync`` for the repository and runs the agent until it is Ready,
   then prints what was applied (Secret values masked);
5. shows, live: a file edit applied (the local-mode watcher), a Vault value change reaching its
   Secret (Vault fingerprints, no polling of values), and a manual change repaired (drift);
6. stops everything and removes the temporary directory; exit code 0 when every step worked.

Parts whose peer is missing (``bao``, ``kubectl`` for the kustomize folder) are left out with a
line saying so. No value is printed: Secrets show key names and sizes only. The demo tooling
(OpenBao control, repository preparation) lives in the emulator distribution, which this
command alone (with ``dev-apiserver``) may import.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from secretsync.cli import exit_codes
from secretsync.errors import UsageError
from secretsync.retry import poll_until
from secretsync.secretvalue import SecretBytes

if TYPE_CHECKING:
    from secretsync.agent.runtime import AgentRuntime
    from secretsync.kube.client import KubeClient
    from secretsync.sealing.keyring import SealingKey
    from secretsync.sources.local import LocalWatcher
    from secretsync_emulator.openbao import OpenBaoDevServer
    from secretsync_emulator.server import APIServer

__all__ = ["add_arguments", "run"]

SYNC_NS = "secretsync-system"
ROOT = Path(__file__).resolve().parents[2]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--key-size",
        type=int,
        default=2048,
        help="RSA size of the throwaway sealing key (default 2048 to keep the demo fast)",
    )
    parser.add_argument("--no-vault", action="store_true", help="leave the Vault part out even if bao is installed")
    parser.add_argument("--examples", default=None, help="the examples folder (default: the one beside the package)")


def _examples(args: argparse.Namespace) -> Path:
    if args.examples:
        return Path(args.examples)
    here = ROOT / "examples"
    if not (here / "repo").is_dir():
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


@dataclass
class _Demo:
    """What the demo started (stopped in reverse order by ``close``) and whether every live step worked."""

    out: _Printer
    examples: Path
    tmp: Path
    server: APIServer | None = None
    vault: OpenBaoDevServer | None = None
    client: KubeClient | None = None
    runtime: AgentRuntime | None = None
    watcher: LocalWatcher | None = None
    failures: list[str] = field(default_factory=list)

    @property
    def kube(self) -> KubeClient:
        assert self.client is not None, "the cluster step runs first"
        return self.client

    def close(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        if self.runtime is not None:
            self.runtime.stop()
        if self.client is not None:
            self.client.close()
        if self.server is not None:
            self.server.stop()
        if self.vault is not None:
            self.vault.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _emulator() -> type[APIServer]:
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
    return APIServer


def run(args: argparse.Namespace) -> int:
    logging.getLogger("secretsync").setLevel(logging.ERROR)
    api_server = _emulator()
    examples = _examples(args)
    out = _Printer()
    out("secretsync demo: the GitOps agent end to end on a throwaway cluster (about 10-30 s)")
    demo = _Demo(out, examples, Path(tempfile.mkdtemp(prefix="secretsync-demo-")))
    try:
        demo.server = api_server().start()
        out.title(f"Kubernetes API emulator started at {demo.server.url} (in this process)")
        demo.vault = _start_vault(demo, wanted=not args.no_vault)
        identity, recipient, sealing_key = _make_keys(demo, args.key_size)
        repo = _prepare_repository(demo, identity, recipient, sealing_key)
        _install(demo, repo, identity, sealing_key)
        if not _wait_ready(demo):
            return exit_codes.ERROR
        vault_secret = demo.vault is not None and demo.kube.get_or_none("v1", "Secret", "vault-credentials", "demo")
        _live_edit(demo, repo)
        if vault_secret and demo.vault is not None:
            _live_vault_change(demo, demo.vault)
        _live_drift(demo)
    finally:
        demo.close()
    out(
        f"\nDone in {time.monotonic() - out.started:.1f} s; stopped the emulator"
        f"{', OpenBao' if demo.vault is not None else ''} and the agent, removed {demo.tmp}."
    )
    return exit_codes.ERROR if demo.failures else exit_codes.OK


def _start_vault(demo: _Demo, wanted: bool) -> OpenBaoDevServer | None:
    """An OpenBao dev server with the example values, or ``None`` (with a line saying so)."""
    from secretsync_emulator.examples import vault_values
    from secretsync_emulator.openbao import OpenBaoDevServer, OpenBaoError, find_bao

    bao = find_bao() if wanted else None
    vault = None
    if bao:
        try:
            vault = OpenBaoDevServer.start(bao, demo.tmp)
        except OpenBaoError:
            vault = None
    if vault is None:
        demo.out("   OpenBao not available: the Vault part is left out")
        return None
    path, data = vault_values(demo.examples)
    vault.write(path, data)
    demo.out(f"   OpenBao dev server at {vault.addr}; wrote secret/{path} ({', '.join(sorted(data))})")
    return vault


def _make_keys(demo: _Demo, key_size: int) -> tuple[str, str, SealingKey]:
    from secretsync.crypto.age import generate_identity
    from secretsync.sealing.keyring import generate_key

    demo.out.title(f"Throwaway keys in {demo.tmp} (removed at the end)")
    identity, recipient = generate_identity()
    started = time.monotonic()
    sealing_key = generate_key(bits=key_size, name="sealed-secrets-keydemo")
    demo.out(f"   age identity for sops: {recipient}")
    demo.out(
        f"   sealing key {sealing_key.name}: RSA-{key_size}, {sealing_key.fingerprint} ({demo.out.elapsed(started)})"
    )
    return identity, recipient, sealing_key


def _prepare_repository(demo: _Demo, identity: str, recipient: str, sealing_key: SealingKey) -> Path:
    from secretsync_emulator.examples import in_memory_encrypter, prepare_repository

    demo.out.title("Preparing the demo repository from examples/ (encrypt and seal the templates)")
    repo = demo.tmp / "repo"
    notes = prepare_repository(
        demo.examples,
        repo,
        sealing_key.certificate_pem(),
        in_memory_encrypter(identity, recipient),
        with_vault=demo.vault is not None,
        with_kustomize=shutil.which("kubectl") is not None,
    )
    for line in notes:
        demo.out(line)
    return repo


def _secret(name: str, namespace: str, data: dict[str, SecretBytes]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}, "data": data}


def _sync_spec(repo: Path, vault: OpenBaoDevServer | None) -> dict[str, Any]:
    spec: dict[str, Any] = {
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
        spec["vault"] = {
            "address": vault.addr,
            "authMethod": "token",
            "secretRef": {"name": "vault-token"},
            "refreshInterval": "1s",
        }
    return spec


def _install(demo: _Demo, repo: Path, identity: str, sealing_key: SealingKey) -> None:
    """CRDs, namespaces, the keys (and the Vault token) as Secrets, the Sync, and the agent started."""
    from secretsync.agent.reconciler import ReconcilerOptions
    from secretsync.agent.runtime import AgentConfig, AgentRuntime
    from secretsync.kube.client import KubeClient
    from secretsync.sealing.keyring import key_secret

    demo.out.title("Installing the CRDs and the keys, creating the Sync, starting the agent")
    assert demo.server is not None
    client = demo.client = KubeClient.from_kubeconfig(str(demo.server.write_kubeconfig(demo.tmp / "kubeconfig")))
    for name in ("sync.yaml", "sealedsecret.yaml"):
        client.apply(yaml.safe_load((ROOT / "crds" / name).read_text()), field_manager="demo", force=True)
    for ns in (SYNC_NS, "kube-system"):
        if client.get_or_none("v1", "Namespace", ns) is None:
            client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    client.create(key_secret(sealing_key, "kube-system"))
    client.create(_secret("sops-age", SYNC_NS, {"age.agekey": SecretBytes(identity)}))
    if demo.vault is not None:
        client.create(_secret("vault-token", SYNC_NS, {"token": SecretBytes(demo.vault.token)}))
    poll_until(lambda: _established(client, "syncs.secretsync.io"), 10)
    client.invalidate_discovery()
    client.create(
        {
            "apiVersion": "secretsync.io/v1alpha1",
            "kind": "Sync",
            "metadata": {"name": "examples", "namespace": SYNC_NS},
            "spec": _sync_spec(repo, demo.vault),
        }
    )
    demo.runtime = AgentRuntime(
        client,
        AgentConfig(source_poll=3600, vault_poll=0.2, reconciler=ReconcilerOptions(allow_local_sources=True)),
    ).start()
    demo.out(f"   Sync {SYNC_NS}/examples -> {repo}")


def _wait_ready(demo: _Demo) -> bool:
    """Wait for the Sync to be Ready and list what it applied (values masked)."""
    client, out = demo.kube, demo.out
    started = time.monotonic()
    out.title("Waiting for the Sync to be Ready")
    if not poll_until(lambda: _ready(client), 45):
        out(f"   NOT READY: {_ready_message(client)}")
        return False
    sync = client.get("secretsync.io/v1alpha1", "Sync", "examples", SYNC_NS)
    out(f"   Ready after {out.elapsed(started)}: {sync['status']['lastAppliedRevision']}")
    out(f"   {len(sync['status']['inventory']['entries'])} objects applied (values masked):")
    for entry in sorted(sync["status"]["inventory"]["entries"], key=lambda e: e["id"]):
        ns, name, group, kind = entry["id"].split("_", 3)
        api_version = f"{group}/{entry['v']}" if group else entry["v"]
        out(_masked(client.get(api_version, kind, name, ns or None)))
    return True


def _live_edit(demo: _Demo, repo: Path) -> None:
    from secretsync.sources.local import LocalWatcher

    client, out, runtime = demo.kube, demo.out, demo.runtime
    assert runtime is not None
    out.title("Live: editing configmap.yaml in the repository (the local-mode watcher applies it)")
    key = (SYNC_NS, "examples")
    demo.watcher = LocalWatcher(repo, lambda: runtime.trigger(key)).start()
    cm_file = repo / "configmap.yaml"
    started = time.monotonic()
    cm_file.write_text(cm_file.read_text().replace("log-level: info", "log-level: debug"))
    if poll_until(lambda: _cm(client).get("log-level") == "debug", 10):
        out(f"   ConfigMap demo/app-config log-level: info -> debug, applied {out.elapsed(started)} after the save")
    else:
        out("   FAILED: the edit was not applied within 10 s")
        demo.failures.append("edit")


def _live_vault_change(demo: _Demo, vault: OpenBaoDevServer) -> None:
    client, out = demo.kube, demo.out
    out.title("Live: a Vault value changes (bao kv put); its Secret follows")
    before = client.get("v1", "Secret", "vault-credentials", "demo")["metadata"]["resourceVersion"]
    started = time.monotonic()
    vault.patch("demo/app", {"password": "rotated-in-vault-demo"})
    changed = poll_until(
        lambda: client.get("v1", "Secret", "vault-credentials", "demo")["metadata"]["resourceVersion"] != before,
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
        demo.failures.append("vault")


def _live_drift(demo: _Demo) -> None:
    client, out = demo.kube, demo.out
    out.title("Live: someone edits a managed object by hand (drift); the agent repairs it")
    cm = client.get("v1", "ConfigMap", "app-config", "demo")
    started = time.monotonic()
    client.update({**cm, "data": {**cm["data"], "log-level": "hacked"}}, field_manager="kubectl-edit")
    out("   kubectl edit configmap app-config: log-level -> hacked")
    if poll_until(lambda: _cm(client).get("log-level") == "debug", 10):
        out(f"   repaired {out.elapsed(started)} later (log-level back to debug, from the repository)")
    else:
        out("   FAILED: the drift was not repaired within 10 s")
        demo.failures.append("drift")


def _masked(obj: dict[str, Any]) -> str:
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


def _conditions(obj: dict[str, Any] | None) -> list[dict[str, Any]]:
    conditions: list[dict[str, Any]] = ((obj or {}).get("status") or {}).get("conditions") or []
    return conditions


def _established(client: KubeClient, name: str) -> bool:
    crd = client.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
    return any(c["type"] == "Established" and c["status"] == "True" for c in _conditions(crd))


def _ready(client: KubeClient) -> bool:
    sync = client.get("secretsync.io/v1alpha1", "Sync", "examples", SYNC_NS)
    return any(c["type"] == "Ready" and c["status"] == "True" for c in _conditions(sync))


def _ready_message(client: KubeClient) -> str:
    sync = client.get("secretsync.io/v1alpha1", "Sync", "examples", SYNC_NS)
    return "; ".join(f"{c['type']}={c['status']} {c.get('reason')}: {c.get('message')}" for c in _conditions(sync))


def _cm(client: KubeClient) -> dict[str, Any]:
    data: dict[str, Any] = (client.get_or_none("v1", "ConfigMap", "app-config", "demo") or {}).get("data") or {}
    return data
