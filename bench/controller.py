"""SealedSecret controller throughput vs the raw RSA-OAEP decrypt rate, and the controller's peak memory.

One run: the Kubernetes API emulator in its own process (``secretsync dev-apiserver``), five retained 4096-bit
sealing keys in the controller's namespace (upstream key Secrets), N SealedSecrets (default 2,000, one item each)
created before the controller starts, then ``secretsync controller`` as a separate process (its default
``--workers`` unless given). It prints the Secrets produced per second end to end (first to last Secret in the
cluster, seen through one metadata-only watch, so every API write of the controller is included: Secret create,
status update, event), the raw ``cryptography`` RSA-OAEP-4096 private decrypt rate on the same ciphertexts
measured in the same run (single thread, best of the rounds before and after the controller phase), the ratio
(goal >= 0.7) and the controller process's peak RSS (``wait4`` rusage). On a shared machine the wall-clock ratio
moves with other processes' load, so it also prints CPU-time figures: the controller's Secrets per CPU-second
against raw decrypts per CPU-second (whole process, and first to last Secret without start-up), and the
emulator's CPU time per Secret (on a real cluster that work runs on the API server's machines, here it takes
the same two cores).

``--spread newest`` (default) seals every object for the newest key, as kubeseal with the served certificate
does; ``--spread random`` spreads them over the five keys, where each value may cost several RSA attempts.

``--profile OUT.pstats`` runs the controller under cProfile in every thread (``bench/profiled.py``; slower, so
its figures are not the benchmark's) and writes the merged statistics for ``python -m pstats``;
``--profile-emulator OUT.pstats`` does the same for the API emulator.

Usage: .venv/bin/python bench/controller.py [--count 2000] [--workers N] [--spread newest|random] [--profile OUT]
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402

from secretsync.kube.client import KubeClient  # noqa: E402
from secretsync.sealing.keyring import generate_key, key_secret  # noqa: E402
from secretsync.sealing.objects import seal_secret  # noqa: E402

KEY_NS, APP_NS = "sealed-secrets", "bench"


def start_emulator(workdir: Path, profile: str | None = None) -> tuple[subprocess.Popen, Path]:
    kubeconfig = workdir / "kubeconfig"
    launcher = [sys.executable, str(ROOT / "bench" / "profiled.py"), profile] if profile else [sys.executable]
    proc = subprocess.Popen(
        [*launcher, "-m", "secretsync", "dev-apiserver", "--kubeconfig-out", str(kubeconfig)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not kubeconfig.exists() or not kubeconfig.read_text().strip():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("the API emulator did not start")
        time.sleep(0.1)
    time.sleep(0.3)
    return proc, kubeconfig


def machine_busy() -> float:
    """CPU-seconds every process of the machine has used since boot (/proc/stat: all but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class SecretWatch:
    """Times the Secrets the controller creates from one watch (no polling load on the emulator):
    ``first``/``last`` are the arrival times of the first and the N-th distinct Secret."""

    def __init__(self, kube: KubeClient, expected: int) -> None:
        self.expected, self.names = expected, set()
        self.first = self.last = None
        self.pids: tuple[int, ...] = ()  # controller, emulator: CPU read at the first and last Secret
        self.at_first = self.at_last = (0.0, 0.0, 0.0, 0.0)
        self.done = threading.Event()
        self._stream = kube.watch(
            "v1",
            "Secret",
            APP_NS,
            label_selector="bench=yes",
            timeout_seconds=3600,
            allow_bookmarks=False,
            metadata_only=True,
        )
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        for etype, obj in self._stream:
            if etype != "ADDED":
                continue
            now = time.perf_counter()
            self.names.add(obj["metadata"]["name"])
            if self.first is None:
                self.first, self.at_first = now, self.probe()
            if len(self.names) >= self.expected:
                self.last, self.at_last = now, self.probe()
                self.done.set()
                return

    def probe(self) -> tuple[float, float, float, float]:
        """(controller CPU, emulator CPU, this process's CPU, the whole machine's busy CPU) in seconds."""
        controller, emulator = (process_cpu(pid) for pid in self.pids) if len(self.pids) == 2 else (0.0, 0.0)
        return controller, emulator, time.process_time(), machine_busy()

    def close(self) -> None:
        self._stream.close()


def raw_rsa_rate(samples: list[tuple], seconds: float = 3.0) -> tuple[float, float]:
    """(decrypts per wall second, decrypts per CPU second of this process), single thread."""
    pads = {}
    done, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        for key, label, block in samples:
            pad = pads.get(label) or pads.setdefault(
                label, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label)
            )
            key.decrypt(block, pad)
            done += 1
    return done / (time.perf_counter() - start), done / max(1e-9, time.process_time() - cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--keys", type=int, default=5)
    parser.add_argument("--key-size", type=int, default=4096)
    parser.add_argument("--workers", type=int, default=None, help="controller --workers (default: the controller's)")
    parser.add_argument("--spread", choices=["newest", "random"], default="newest")
    parser.add_argument("--profile", metavar="OUT", help="profile the controller (every thread) into this pstats file")
    parser.add_argument("--profile-emulator", metavar="OUT", help="profile the API emulator (every thread) likewise")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-controller-"))
    emulator, kubeconfig = start_emulator(workdir, args.profile_emulator)
    controller = None
    try:
        kube = KubeClient.from_kubeconfig(str(kubeconfig), timeout=60)
        kube.create(yaml.safe_load((ROOT / "crds" / "sealedsecret.yaml").read_text()))
        for ns in (KEY_NS, APP_NS):
            kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        kube.invalidate_discovery()

        started = time.perf_counter()
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        keys = [
            generate_key(
                args.key_size, now=now - dt.timedelta(days=30 * (args.keys - i)), name=f"sealed-secrets-key{i:05d}"
            )
            for i in range(args.keys)
        ]
        for key in keys:
            kube.create(key_secret(key, KEY_NS))
        print(
            f"generated {args.keys} x {args.key_size}-bit keys in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )

        rng = random.Random(7)
        objects, samples = [], []
        for i in range(args.count):
            key = keys[-1] if args.spread == "newest" else rng.choice(keys)
            secret = {
                "metadata": {"name": f"app-{i:05d}", "namespace": APP_NS, "labels": {"bench": "yes"}},
                "stringData": {"password": os.urandom(16).hex()},
            }
            obj = seal_secret(secret, key.certificate)
            obj["metadata"]["labels"] = {"bench": "yes"}
            objects.append(obj)
            if len(samples) < 60:
                raw = base64.b64decode(obj["spec"]["encryptedData"]["password"])
                length = int.from_bytes(raw[:2], "big")
                samples.append((key.private_key, f"{APP_NS}/app-{i:05d}".encode(), raw[2 : 2 + length]))
        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(kube.create, objects))
        print(f"created {args.count} SealedSecrets in {time.perf_counter() - started:.1f} s", file=sys.stderr)

        raw_before = raw_rsa_rate(samples)

        watch = SecretWatch(kube, args.count)
        env = {**os.environ, "POD_NAMESPACE": KEY_NS, "SEALED_SECRETS_KEY_RENEW_PERIOD": "0"}
        launched = time.perf_counter()
        emulator_cpu = process_cpu(emulator.pid)
        launcher = (
            [sys.executable, str(ROOT / "bench" / "profiled.py"), args.profile] if args.profile else [sys.executable]
        )
        controller = subprocess.Popen(
            [
                *launcher,
                "-m",
                "secretsync",
                "controller",
                "--kubeconfig",
                str(kubeconfig),
                "--listen-addr",
                "127.0.0.1:0",
                "--listen-metrics-addr",
                "127.0.0.1:0",
                "--log-level",
                "ERROR",
                *(["--workers", str(args.workers)] if args.workers else []),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        watch.pids = (controller.pid, emulator.pid)
        deadline = time.monotonic() + max(600.0, args.count * 0.5)
        while not watch.done.wait(0.2):
            if controller.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    f"the controller stopped or stalled at {len(watch.names)} Secrets: "
                    f"{controller.stderr.read().decode()[-2000:] if controller.poll() is not None else ''}"
                )
        first, last = watch.first, watch.last
        watch.close()
        emulator_cpu = process_cpu(emulator.pid) - emulator_cpu
        controller.send_signal(signal.SIGTERM)
        _, status, usage = os.wait4(controller.pid, 0)
        controller = None
        peak_mib = usage.ru_maxrss / 1024

        raw_after = raw_rsa_rate(samples)
        raw = max(raw_before[0], raw_after[0])
        raw_cpu = max(raw_before[1], raw_after[1])
        rate = (args.count - 1) / (last - first) if last > first else float("inf")
        total = args.count / (last - launched)
        ratio = rate / raw
        print(
            f"SealedSecrets: {args.count} (one item each), {args.keys} retained {args.key_size}-bit keys, "
            f"sealed for: {args.spread}, controller workers: {args.workers or 'default'}"
        )
        print(
            f"raw cryptography RSA-OAEP-{args.key_size} decrypt : {raw:8.1f} ops/s "
            f"(before {raw_before[0]:.1f}, after {raw_after[0]:.1f}; {raw_cpu:.1f} per CPU-second)"
        )
        print(f"controller, first to last Secret     : {rate:8.1f} Secrets/s   ratio {ratio:.3f} (goal >= 0.7)")
        print(f"controller, process start to last    : {total:8.1f} Secrets/s   (includes start-up and initial list)")
        print(f"controller peak RSS                  : {peak_mib:8.1f} MiB")
        cpu = usage.ru_utime + usage.ru_stime
        print(
            f"controller CPU time                  : {cpu:8.1f} s over {last - launched:.1f} s wall "
            f"({args.count / cpu:.1f} Secrets per CPU-second, ratio {args.count / cpu / raw_cpu:.3f} to raw RSA "
            f"per CPU-second: the figure other processes' load does not skew)"
        )
        steady = watch.at_last[0] - watch.at_first[0]
        if steady > 0:
            per = steady / (args.count - 1)
            print(
                f"controller CPU, first to last Secret : {per * 1000:8.2f} ms per Secret "
                f"({1 / per:.1f} per CPU-second, ratio {1 / per / raw_cpu:.3f}; raw RSA is {1000 / raw_cpu:.2f} ms of it; start-up excluded)"
            )
        print(
            f"API emulator CPU time (same phase)   : {emulator_cpu:8.1f} s ({emulator_cpu / args.count * 1000:.1f} ms "
            f"per Secret: create, status update, event, watch fan-out, this bench's watch)"
        )
        spent = [b - a for a, b in zip(watch.at_first, watch.at_last)]
        others = spent[3] - spent[0] - spent[1] - spent[2]
        cores = len(os.sched_getaffinity(0))
        print(
            f"machine, first to last Secret        : {spent[3]:8.1f} CPU-s used of {cores * (last - first):.1f} "
            f"({cores} cores); other processes took {others:.1f} (a loaded machine lowers the wall-clock ratio)"
        )
        print("goal met" if ratio >= 0.7 else "goal NOT met")
        return 0 if ratio >= 0.7 else 1
    finally:
        if controller is not None:
            controller.kill()
            controller.wait()
        emulator.send_signal(signal.SIGTERM)
        try:
            emulator.wait(20)
        except subprocess.TimeoutExpired:
            emulator.kill()


if __name__ == "__main__":
    sys.exit(main())
