"""API emulator load: 5,000 objects created, listed and watched; requests/s and the server's memory.

Runs ``secretsync dev-apiserver`` as its own process (so its RSS is the
server's alone) and, as the physical reference measured in the same run, a
bare HTTPS server on the same HTTP base and TLS setup that answers every POST
with a fixed 201 (no parsing, no storage): the ratio says how much of the
transport's ceiling the emulator's object handling leaves.

Prints, for N objects (default 5,000): creates/s (one keep-alive connection,
sequential, like a controller), full list time (one request, and 500-item
chunks like kubectl), watch from resourceVersion 0 (N synthetic ADDED) and
from the start (N recorded events), and the server's RSS (VmRSS) after
bootstrap and after the load.

Usage: .venv/bin/python bench/apiserver.py [N]   (loopback only, bounded by N)
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import urllib3
import yaml

ROOT = Path(__file__).resolve().parents[1]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def start_emulator(tmp: Path):
    kubeconfig = tmp / "kubeconfig"
    proc = subprocess.Popen(
        [sys.executable, "-m", "secretsync", "dev-apiserver", "--kubeconfig-out", str(kubeconfig)],
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while not kubeconfig.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("dev-apiserver did not start")
        time.sleep(0.05)
    time.sleep(0.2)
    cfg = yaml.safe_load(kubeconfig.read_text())
    cluster = cfg["clusters"][0]["cluster"]
    ca = tmp / "ca.crt"
    import base64

    ca.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    return proc, cluster["server"], cfg["users"][0]["user"]["token"], ca


BARE = textwrap.dedent("""
    import sys, threading
    sys.path.insert(0, sys.argv[1])
    from secretsync_emulator.httpbase import BaseHandler, BaseServer
    from secretsync_emulator.tls import ServerTLS
    body = b'{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"x","resourceVersion":"1"}}'
    class H(BaseHandler):
        def do_POST(self):
            self.read_body()
            self.send_bytes(201, body, "application/json")
    tls = ServerTLS()
    srv = BaseServer(("127.0.0.1", 0), H, ssl_context=tls.context)
    open(sys.argv[2], "wb").write(tls.ca_pem)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()
""")


def pool(ca: Path) -> urllib3.HTTPSConnectionPool:
    ctx = ssl.create_default_context(cafile=str(ca))
    return urllib3.PoolManager(ssl_context=ctx, maxsize=1, retries=False, timeout=60)


def cm(i: int) -> bytes:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"cm-{i:05d}", "labels": {"bench": "yes", "shard": str(i % 10)}},
            "data": {"key": f"value-{i}", "other": "x" * 64},
        }
    ).encode()


def creates_per_second(http, url: str, token: str, n: int, path: str) -> float:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    start = time.perf_counter()
    for i in range(n):
        resp = http.request("POST", url + path, body=cm(i), headers=headers)
        if resp.status != 201:
            raise SystemExit(f"create {i} answered {resp.status}: {resp.data[:200]!r}")
    return n / (time.perf_counter() - start)


def watch_count(http, url: str, token: str, query: str, n: int) -> float:
    start = time.perf_counter()
    resp = http.request(
        "GET",
        f"{url}/api/v1/namespaces/default/configmaps?watch=true&{query}",
        headers={"Authorization": f"Bearer {token}"},
        preload_content=False,
    )
    seen, buf = 0, b""
    for chunk in resp.stream(65536):
        buf += chunk
        seen += buf.count(b"\n")
        buf = buf[buf.rfind(b"\n") + 1 :]
        if seen >= n:
            break
    resp.release_conn()
    if seen < n:
        raise SystemExit(f"watch delivered {seen} of {n} events")
    return time.perf_counter() - start


def main(n: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-apiserver-") as tmp_name:
        tmp = Path(tmp_name)
        bare_ca = tmp / "bare-ca.crt"
        bare = subprocess.Popen(
            [sys.executable, "-c", BARE, str(ROOT), str(bare_ca)],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        bare_port = int(bare.stdout.readline())
        proc, url, token, ca = start_emulator(tmp)
        try:
            http = pool(ca)
            rss_start = rss_kib(proc.pid)
            base_rate = creates_per_second(pool(bare_ca), f"https://127.0.0.1:{bare_port}", token, min(n, 2000), "/x")
            resp = http.request(
                "GET", f"{url}/api/v1/namespaces/default/configmaps", headers={"Authorization": f"Bearer {token}"}
            )
            start_rv = json.loads(resp.data)["metadata"]["resourceVersion"]
            rate = creates_per_second(http, url, token, n, "/api/v1/namespaces/default/configmaps")

            auth = {"Authorization": f"Bearer {token}"}
            t0 = time.perf_counter()
            resp = http.request("GET", f"{url}/api/v1/namespaces/default/configmaps", headers=auth)
            items = len(json.loads(resp.data)["items"])
            list_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            pages, cont, chunked_items = 0, "", 0
            while True:
                q = "?limit=500" + (f"&continue={cont}" if cont else "")
                body = json.loads(
                    http.request("GET", f"{url}/api/v1/namespaces/default/configmaps{q}", headers=auth).data
                )
                pages += 1
                chunked_items += len(body["items"])
                cont = body["metadata"].get("continue")
                if not cont:
                    break
            chunk_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            sel = http.request(
                "GET", f"{url}/api/v1/namespaces/default/configmaps?labelSelector=shard%3D3", headers=auth
            )
            selected = len(json.loads(sel.data)["items"])
            sel_s = time.perf_counter() - t0
            watch0_s = watch_count(http, url, token, "resourceVersion=0&timeoutSeconds=120", n)
            watch_rv_s = watch_count(http, url, token, f"resourceVersion={start_rv}&timeoutSeconds=120", n)
            rss_end = rss_kib(proc.pid)
        finally:
            for p in (proc, bare):
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=10)
    print(f"API emulator, {n} ConfigMaps (one keep-alive HTTPS connection, sequential)")
    print(
        f"  create:            {rate:8.0f} req/s   bare HTTPS POST on the same base: {base_rate:8.0f} req/s"
        f"   ratio {rate / base_rate:.2f}"
    )
    print(f"  list all:          {list_s * 1000:8.0f} ms for {items} items ({items / list_s:.0f} items/s)")
    print(f"  list in 500-chunks:{chunk_s * 1000:8.0f} ms for {chunked_items} items in {pages} requests")
    print(f"  list by label:     {sel_s * 1000:8.0f} ms for {selected} of {items} items")
    print(f"  watch from rv=0:   {watch0_s * 1000:8.0f} ms for {n} ADDED events ({n / watch0_s:.0f} events/s)")
    print(f"  watch from rv:     {watch_rv_s * 1000:8.0f} ms for {n} recorded events ({n / watch_rv_s:.0f} events/s)")
    print(
        f"  server RSS:        {rss_start / 1024:8.1f} MiB after start, {rss_end / 1024:.1f} MiB with {n} objects "
        f"({(rss_end - rss_start) / n:.1f} KiB/object)"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
