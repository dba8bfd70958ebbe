"""crds/sync.yaml: the server refuses a wrong Sync at `kubectl apply` time (required fields, enums,
patterns, unknown fields), accepts a full one, and `kubectl get syncs` shows Ready, Status,
Revision and Age. syncspec.py refuses the same wrong Syncs with a message naming the field."""

from __future__ import annotations

import pytest
import yaml

from secretsync.api.syncspec import InvalidSyncSpec, SyncSpec

GOOD = {
    "source": {
        "git": {
            "url": "https://example.test/repo.git",
            "ref": {"branch": "main"},
            "secretRef": {"name": "git-creds"},
            "verify": {"mode": "HEAD", "secretRef": {"name": "keys"}},
        }
    },
    "path": "./deploy",
    "interval": "5m",
    "retryInterval": "30s",
    "timeout": "2m",
    "prune": True,
    "allowEmpty": False,
    "maxPrune": "10%",
    "targetNamespace": "apps",
    "wait": True,
    "healthChecks": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}],
    "dependsOn": [{"name": "infra"}],
    "suspend": False,
    "serviceAccountName": "deployer",
    "decryption": {"provider": "sops", "secretRef": {"name": "sops-age"}, "sealingKeys": {"namespace": "kube-system"}},
    "vault": {
        "address": "https://vault.example.test",
        "authMethod": "kubernetes",
        "role": "apps",
        "refreshInterval": "1m",
    },
    "postBuild": {"substitute": {"CLUSTER": "prod"}, "substituteFrom": [{"kind": "ConfigMap", "name": "vars"}]},
    "ignoreDifferences": [{"kind": "Deployment", "group": "apps", "jsonPointers": ["/spec/replicas"]}],
    "kubeConfig": {"secretRef": {"name": "remote", "key": "value"}},
    "webhook": {"type": "github", "secretRef": {"name": "hook-token"}},
    "notifications": {"webhooks": [{"url": "https://chat.example.test/hook"}], "onRecovery": True},
}

BAD = {
    "no source": ({k: v for k, v in GOOD.items() if k != "source"}, "source"),
    "no prune": ({k: v for k, v in GOOD.items() if k != "prune"}, "prune"),
    "two sources": ({**GOOD, "source": {"git": {"url": "https://x.test/r"}, "path": "/tmp"}}, "source"),
    "short commit": ({**GOOD, "source": {"git": {"url": "https://x.test/r", "ref": {"commit": "abc"}}}}, "commit"),
    "bad url": ({**GOOD, "source": {"git": {"url": "not a url"}}}, "url"),
    "bad interval": ({**GOOD, "interval": "5 minutes"}, "interval"),
    "bad auth": ({**GOOD, "vault": {"address": "https://v.test", "authMethod": "ldap"}}, "authMethod"),
    "bad namespace": ({**GOOD, "targetNamespace": "Not_A_Namespace"}, "targetNamespace"),
    "bad maxPrune": ({**GOOD, "maxPrune": "lots"}, "maxPrune"),
    "unknown field": ({**GOOD, "prunne": True}, "prunne"),
    "bad hook type": ({**GOOD, "webhook": {"type": "bitbucket", "secretRef": {"name": "t"}}}, "webhook"),
}


EMULATOR_GAPS = {"two sources"}


def sync(name: str, namespace: str, spec: dict) -> dict:
    return {
        "apiVersion": "secretsync.io/v1alpha1",
        "kind": "Sync",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def test_kubectl_accepts_a_full_sync_and_shows_columns(agent_kube):
    cluster = agent_kube.cluster
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(sync("full", cluster.namespace, GOOD)))
    SyncSpec.parse({**sync("full", cluster.namespace, GOOD)})
    agent_kube.client.patch(
        "secretsync.io/v1alpha1",
        "Sync",
        "full",
        cluster.namespace,
        {
            "status": {
                "lastAppliedRevision": "main@sha1:" + "a" * 40,
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "ReconciliationSucceeded",
                        "message": "Applied revision",
                        "lastTransitionTime": "2026-01-01T00:00:00Z",
                    }
                ],
            }
        },
        subresource="status",
    )
    out = cluster.kubectl("get", "syncs", "-n", cluster.namespace).stdout.splitlines()
    assert out[0].split() == ["NAME", "READY", "STATUS", "REVISION", "AGE"]
    if cluster.is_emulator:  # the emulator's Table output only follows .a.b paths, not conditions[0]
        assert out[1].split()[:2] == ["full", "main@sha1:" + "a" * 40]
    else:
        assert out[1].split()[:5] == ["full", "True", "Applied", "revision", "main@sha1:" + "a" * 40]


@pytest.mark.parametrize("case", sorted(BAD))
def test_wrong_sync_refused_by_server_and_syncspec(agent_kube, case):
    spec, field = BAD[case]
    cluster = agent_kube.cluster
    r = cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(sync("bad", cluster.namespace, spec)), check=False)
    if case in EMULATOR_GAPS and cluster.is_emulator:
        pass  # the emulator does not enforce minProperties/maxProperties; a real server refuses it
    else:
        assert r.returncode != 0, f"{case}: accepted by the server"
        assert "invalid" in r.stderr.lower() or "unknown field" in r.stderr.lower()
    with pytest.raises(InvalidSyncSpec) as exc:
        SyncSpec.parse(sync("bad", cluster.namespace, spec))
    assert field in exc.value.message and "Sync " in exc.value.message
