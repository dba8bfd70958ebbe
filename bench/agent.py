"""Agent figures against the API emulator (in its own process, so CPU figures are the agent's alone).

    .venv/bin/python bench/agent.py [--syncs 200] [--objects 50] [--steady 30]

Measures, with S Syncs of O ConfigMaps each from one Git repository (one folder per Sync):

1. **commit to Ready**: first deployment, then one commit changing every Sync's folder, until all S
   Syncs are Ready at the new commit (found by the Git poller, 1 s). Peer in the same run: the same
   S x O objects server-side applied directly with ``apply_all`` (no Git, no render, one pass) -
   the floor set by the API server's write throughput.
2. **steady state**: with nothing changing and ``interval`` 10 s, the agent's CPU seconds per
   minute (its process only) and its API writes (must be 0).
3. **drift repair latency**: a managed ConfigMap changed by another field manager until reverted
   (median of 10); ratio against one GET round trip.
4. **local mode save-to-applied**: a file saved in a watched folder until its object is applied
   (median of 10); goal < 1 s.

The defaults are the issue's 200 x 50; pass smaller numbers on a loaded machine (the output says
which scale was used).
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from secretsync.retry import poll_until  # noqa: E402


def cm(name: str, ns: str, value: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns},
        "data": {"value": value},
    }


def git(*args, cwd=None, env=None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


class Counting:
    """Wraps KubeClient._request to count requests by (method, dry-run)."""

    def __init__(self, client) -> None:
        self.counts = collections.Counter()
        original = client._request

        def request(method, path, **kw):
            dry = any(k == "dryRun" and v for k, v in kw.get("query") or ())
            self.counts[(method, dry)] += 1
            return original(method, path, **kw)

        client._request = request

    def writes(self) -> int:
        return sum(n for (m, dry), n in self.counts.items() if m in ("POST", "PUT", "PATCH", "DELETE") and not dry)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--syncs", type=int, default=200)
    parser.add_argument("--objects", type=int, default=50)
    parser.add_argument("--steady", type=float, default=30.0, help="seconds of steady state to measure")
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.ERROR)
    from secretsync.agent.reconciler import ReconcilerOptions
    from secretsync.agent.runtime import AgentConfig, AgentRuntime
    from secretsync.kube.apply import ApplyOptions, apply_all
    from secretsync.kube.client import KubeClient
    from secretsync.sources.local import LocalWatcher

    S, O = args.syncs, args.objects
    scale = "" if (S, O) == (200, 50) else " (scaled down from 200 x 50)"
    print(f"bench/agent.py: {S} Syncs x {O} objects{scale}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-agent-"))
    kubeconfig = tmp / "kubeconfig"
    server = subprocess.Popen(
        [sys.executable, "-m", "secretsync", "dev-apiserver", "--kubeconfig-out", str(kubeconfig)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    runtime = None
    try:
        assert poll_until(kubeconfig.exists, 30, 0.01), "the emulator did not start"
        time.sleep(0.5)
        client = KubeClient.from_kubeconfig(str(kubeconfig))
        crd = yaml.safe_load((ROOT / "crds" / "sync.yaml").read_text())
        client.apply(crd, field_manager="bench", force=True)
        poll_until(
            lambda: any(
                c["type"] == "Established"
                for c in (
                    client.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "syncs.secretsync.io").get(
                        "status"
                    )
                    or {}
                ).get("conditions")
                or []
            ),
            10,
            0.01,
        )
        client.invalidate_discovery()
        for ns in ("bench", "floor"):
            client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})

        # the floor: the same number of objects applied directly
        floor_objects = [cm(f"f{i}-{j}", "floor", "v1") for i in range(S) for j in range(O)]
        started = time.monotonic()
        apply_all(floor_objects, ApplyOptions(client=client, field_manager="bench", wait_waves=False, concurrency=4))
        floor = time.monotonic() - started

        # the repository
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "b",
            "GIT_AUTHOR_EMAIL": "b@x",
            "GIT_COMMITTER_NAME": "b",
            "GIT_COMMITTER_EMAIL": "b@x",
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": str(tmp),
        }
        bare, work = tmp / "repo.git", tmp / "work"
        git("init", "-q", "--bare", "-b", "main", str(bare), env=env)
        git("init", "-q", "-b", "main", str(work), env=env)

        def write_all(value: str) -> str:
            for i in range(S):
                d = work / f"s{i}"
                d.mkdir(exist_ok=True)
                (d / "objects.yaml").write_text(yaml.safe_dump_all([cm(f"s{i}-{j}", "bench", value) for j in range(O)]))
            git("add", "-A", cwd=work, env=env)
            git("commit", "-q", "-m", value, cwd=work, env=env)
            git("push", "-q", str(bare), "HEAD:refs/heads/main", cwd=work, env=env)
            return git("rev-parse", "HEAD", cwd=work, env=env)

        first = write_all("v1")
        agent_client = KubeClient.from_kubeconfig(str(kubeconfig))
        counting = Counting(agent_client)
        runtime = AgentRuntime(
            agent_client,
            AgentConfig(
                concurrent=4,
                source_poll=1.0,
                events=False,
                reconciler=ReconcilerOptions(git_cache_dir=tmp / "cache", jitter=0.0),
            ),
        ).start()
        started = time.monotonic()
        for i in range(S):
            client.create(
                {
                    "apiVersion": "secretsync.io/v1alpha1",
                    "kind": "Sync",
                    "metadata": {"name": f"s{i}", "namespace": "bench"},
                    "spec": {
                        "source": {"git": {"url": bare.as_uri(), "ref": {"branch": "main"}}},
                        "path": f"s{i}",
                        "interval": "10s",
                        "prune": True,
                    },
                }
            )

        def all_ready(sha: str) -> bool:
            items = client.list("secretsync.io/v1alpha1", "Sync", "bench")["items"]
            return len(items) == S and all(
                (o.get("status") or {}).get("lastAppliedRevision", "").endswith(sha) for o in items
            )

        assert poll_until(lambda: all_ready(first), 1800, 0.2), "first deployment did not finish"
        initial = time.monotonic() - started
        second = write_all("v2")
        started = time.monotonic()
        assert poll_until(lambda: all_ready(second), 1800, 0.2), "the commit did not reach every Sync"
        commit_to_ready = time.monotonic() - started

        # steady state
        time.sleep(2.0)
        writes_before = counting.writes()
        reconciles_before = runtime.metrics.total.labels("success")._value.get()
        cpu0, t0 = time.process_time(), time.monotonic()
        time.sleep(args.steady)
        cpu = time.process_time() - cpu0
        wall = time.monotonic() - t0
        steady_writes = counting.writes() - writes_before
        steady_reconciles = runtime.metrics.total.labels("success")._value.get() - reconciles_before

        # drift repair latency
        rtt = []
        for _ in range(10):
            t = time.monotonic()
            client.get("v1", "ConfigMap", "s0-0", "bench")
            rtt.append(time.monotonic() - t)
        drift = []
        for k in range(10):
            live = client.get("v1", "ConfigMap", f"s0-{k}", "bench")
            t = time.monotonic()
            client.update({**live, "data": {"value": "drifted"}}, field_manager="kubectl-edit")
            assert poll_until(
                lambda: client.get("v1", "ConfigMap", f"s0-{k}", "bench")["data"]["value"] == "v2", 30, 0.01
            )
            drift.append(time.monotonic() - t)
        runtime.stop()
        runtime = None

        # local mode
        local = tmp / "local"
        local.mkdir()
        (local / "cm.yaml").write_text(yaml.safe_dump(cm("local", "bench", "0")))
        sync = {
            "apiVersion": "secretsync.io/v1alpha1",
            "kind": "Sync",
            "metadata": {"name": "local", "namespace": "bench", "generation": 1},
            "spec": {"source": {"path": str(local)}, "interval": "1h", "prune": True},
        }
        runtime = AgentRuntime(
            KubeClient.from_kubeconfig(str(kubeconfig)),
            AgentConfig(local_sync=sync, events=False, reconciler=ReconcilerOptions(allow_local_sources=True)),
        ).start()
        assert poll_until(lambda: client.get_or_none("v1", "ConfigMap", "local", "bench") is not None, 30, 0.01)
        watcher = LocalWatcher(local, lambda: runtime.trigger(("bench", "local"))).start()
        saves = []
        for k in range(1, 11):
            time.sleep(0.2)
            t = time.monotonic()
            (local / "cm.yaml").write_text(yaml.safe_dump(cm("local", "bench", str(k))))
            assert poll_until(
                lambda: client.get("v1", "ConfigMap", "local", "bench")["data"]["value"] == str(k), 10, 0.01
            )
            saves.append(time.monotonic() - t)
        watcher.stop()

        objects = S * O
        print(
            f"  direct apply of {objects} objects (floor, same emulator): {floor:.1f} s "
            f"({objects / floor:.0f} objects/s)"
        )
        print(f"  first deployment, {S} Syncs to Ready: {initial:.1f} s ({initial / floor:.2f}x the floor)")
        print(
            f"  commit to Ready across all {S} Syncs (Git poll 1 s): {commit_to_ready:.1f} s "
            f"({commit_to_ready / floor:.2f}x the floor)"
        )
        print(
            f"  steady state over {wall:.0f} s (interval 10 s, {steady_reconciles:.0f} reconciles): "
            f"{cpu / wall * 60:.1f} CPU-s per minute ({cpu / wall * 100:.1f}% of one core), "
            f"{steady_writes} API writes"
        )
        print(
            f"  drift repair latency: median {statistics.median(drift) * 1000:.0f} ms, max {max(drift) * 1000:.0f} ms "
            f"({statistics.median(drift) / statistics.median(rtt):.0f}x one GET round trip of "
            f"{statistics.median(rtt) * 1000:.1f} ms)"
        )
        print(
            f"  local mode save-to-applied: median {statistics.median(saves) * 1000:.0f} ms, "
            f"max {max(saves) * 1000:.0f} ms (goal < 1000 ms: {statistics.median(saves):.2f}x of it)"
        )
        return 0
    finally:
        if runtime is not None:
            runtime.stop()
        server.terminate()
        server.wait(10)
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
