"""Pure parts of the agent, no cluster: Sync spec defaults and durations, the webhook signature check
against HMACs computed by the real ``openssl`` (GitHub's and the generic scheme), shard stability,
and the notification payload shape (Slack-compatible, no value)."""

from __future__ import annotations

import subprocess

import pytest

from secretsync.agent.notify import payload
from secretsync.agent.runtime import shard_of
from secretsync.agent.webhooks import WebhookReceiver
from secretsync.api.syncspec import InvalidSyncSpec, SyncSpec, parse_duration
from secretsync.runtime.httpserver import Request
from tests.fixtures.peers import peer_binary


def sync(spec: dict) -> dict:
    return {"metadata": {"name": "s", "namespace": "n", "generation": 3}, "spec": spec}


def test_defaults_and_durations():
    spec = SyncSpec.parse(sync({"source": {"path": "/x"}, "interval": "10m", "prune": False}))
    assert (spec.interval, spec.retry, spec.effective_timeout, spec.path, spec.generation) == (600, 600, 570, ".", 3)
    assert spec.notifications.on_failure and spec.notifications.on_recovery and spec.vault is None
    short = SyncSpec.parse(
        sync(
            {
                "source": {"path": "/x"},
                "interval": "45s",
                "retryInterval": "1m30s",
                "prune": True,
                "vault": {"address": "http://v"},
            }
        )
    )
    assert (short.effective_timeout, short.retry, short.vault.refresh_interval, short.vault.kv_version) == (
        30,
        90,
        300,
        "2",
    )
    assert parse_duration("1h2m3.5s", "x") == 3723.5 and parse_duration("250ms", "x") == 0.25
    for bad in ("", "10", "1d", "-1s", "1 m"):
        with pytest.raises(InvalidSyncSpec):
            parse_duration(bad, "x")


def _openssl_hmac(key: bytes, body: bytes, algo: str = "sha256") -> str:
    out = subprocess.run(
        [peer_binary("openssl"), "dgst", f"-{algo}", "-hmac", key.decode(), "-r"],
        input=body,
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout.decode()
    return out.split()[0]


@pytest.mark.parametrize(
    "kind,header,algo",
    [
        ("github", "X-Hub-Signature-256", "sha256"),
        ("generic-hmac", "X-Signature", "sha256"),
        ("generic-hmac", "X-Signature", "sha1"),
    ],
)
def test_signatures_match_openssl(kind, header, algo):
    hits = []
    receiver = WebhookReceiver(hits.append)
    token, body = b"s3cret-hook-token", b'{"ref":"refs/heads/main"}'
    path = receiver.register(("n", "s"), kind, token)
    signature = _openssl_hmac(token, body, algo)

    def send(value: str) -> int:
        return receiver.handle(Request("POST", path, {}, {header: value}, body, ("127.0.0.1", 1))).status

    assert send(f"{algo}={signature}") == 200 and hits == [("n", "s")]
    assert send(f"{algo}={signature[:-1]}0" if not signature.endswith("0") else f"{algo}={signature[:-1]}1") == 401
    assert send("md5=" + signature) == 401 and send("") == 401
    assert hits == [("n", "s")]


def test_shards_are_stable_and_spread():
    counts = [0, 0, 0]
    for i in range(300):
        counts[shard_of("ns", f"sync-{i}", 3)] += 1
    assert all(70 < c < 130 for c in counts)
    assert shard_of("ns", "a", 3) == shard_of("ns", "a", 3)


def test_notification_payload():
    body = payload("n/s", "main@sha1:abc", False, "DecryptionFailed", "db.sops.yaml: MAC mismatch")
    assert body["text"] == "Sync n/s failed: DecryptionFailed"
    assert body["attachments"][0]["color"] == "danger"
    assert {f["title"]: f["value"] for f in body["attachments"][0]["fields"]} == {
        "Revision": "main@sha1:abc",
        "Reason": "DecryptionFailed",
    }
