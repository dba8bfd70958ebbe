"""Webhook notifications of Sync failures and recoveries, as Slack-compatible JSON payloads.

``Notifier.failed(spec, revision, reason, message)`` and ``.recovered(...)`` POST
``{"text": ..., "attachments": [...]}`` (what Slack's incoming webhooks and most chat tools
accept) to the URLs listed in the Sync's ``spec.notifications.webhooks`` - and only there.
Sending happens in a daemon thread with a short timeout so a slow receiver never holds a
reconcile. The text names the Sync, the revision and the condition reason and message, which
never hold secret values (messages name objects and keys only).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.request
from typing import Any

from secretsync.api.syncspec import SyncSpec

__all__ = ["Notifier", "payload"]

log = logging.getLogger(__name__)


def payload(sync: str, revision: str | None, ok: bool, reason: str, message: str) -> dict[str, Any]:
    title = f"Sync {sync} {'recovered' if ok else 'failed'}"
    return {
        "text": f"{title}: {reason}",
        "attachments": [
            {
                "color": "good" if ok else "danger",
                "title": title,
                "text": message[:2000],
                "fields": [
                    {"title": "Revision", "value": revision or "unknown", "short": True},
                    {"title": "Reason", "value": reason, "short": True},
                ],
            }
        ],
    }


class Notifier:
    def __init__(self, timeout: float = 5.0, max_queue: int = 100) -> None:
        self.timeout = timeout
        self._queue: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue(max_queue)
        self._thread = threading.Thread(target=self._run, name="sync-notifier", daemon=True)
        self._thread.start()
        self.sent = 0
        self.errors = 0

    def failed(self, spec: SyncSpec, revision: str | None, reason: str, message: str) -> None:
        self._post(spec, payload(f"{spec.namespace}/{spec.name}", revision, False, reason, message))

    def recovered(self, spec: SyncSpec, revision: str | None, message: str) -> None:
        self._post(spec, payload(f"{spec.namespace}/{spec.name}", revision, True, "ReconciliationSucceeded", message))

    def _post(self, spec: SyncSpec, body: dict[str, Any]) -> None:
        for url in spec.notifications.webhook_urls:
            try:
                self._queue.put_nowait((url, body))
            except queue.Full:
                log.warning("notification queue full; dropped a notification for %s/%s", spec.namespace, spec.name)

    def _run(self) -> None:
        while True:
            url, body = self._queue.get()
            request = urllib.request.Request(
                url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - configured URL
                    response.read(1024)
                self.sent += 1
            except OSError as exc:
                self.errors += 1
                log.warning("notification to %s failed: %s", url.split("?")[0], type(exc).__name__)
            finally:
                self._queue.task_done()

    def flush(self, timeout: float = 5.0) -> None:
        import time

        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)
