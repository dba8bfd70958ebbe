"""api.syncspec against crds/sync.yaml, without a cluster: the parser knows exactly the CRD's spec fields,
requires the same ones and offers the same enums; a full Sync parses into the typed sub-specs
(source, decryption, vault, postBuild with typed substituteFrom refs, health checks, ignore rules,
kubeConfig, notifications, webhook) with their defaults; and the nested rules the CRD states
(required names, booleans, namespace labels) are refused with a message naming the field.
The server's side of the same rules: ``tests/agent/test_crd.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from secretsync.api import syncspec
from secretsync.api.syncspec import (
    DecryptionSpec,
    GitSourceSpec,
    HealthCheckRef,
    IgnoreDifference,
    InvalidSyncSpec,
    NotificationsSpec,
    PostBuildSpec,
    Ref,
    SourceSpec,
    SubstituteFromRef,
    SyncSpec,
    VaultSpec,
    WebhookSpec,
)
from tests.agent.test_crd import GOOD

CRD = yaml.safe_load((Path(__file__).resolve().parents[2] / "crds" / "sync.yaml").read_text())
SCHEMA = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]


def sync(spec: dict) -> dict:
    return {"metadata": {"name": "s", "namespace": "n", "generation": 2}, "spec": spec}


def prop(*path: str) -> dict:
    node = SCHEMA
    for name in path:
        node = node["properties"][name]
        if node.get("type") == "array":
            node = node["items"]
    return node


def test_fields_required_and_enums_match_the_crd():
    assert syncspec._SPEC_FIELDS == set(SCHEMA["properties"])
    assert set(syncspec._REQUIRED) == set(SCHEMA["required"])
    assert set(syncspec._WEBHOOK_TYPES) == set(prop("webhook", "type")["enum"])
    assert set(syncspec._VAULT_AUTH) == set(prop("vault", "authMethod")["enum"])
    assert set(syncspec._VARIABLE_KINDS) == set(prop("postBuild", "substituteFrom", "kind")["enum"])
    assert set(prop("postBuild", "substituteFrom")["properties"]) == {"kind", "name", "optional"}
    assert set(prop("source", "git")["properties"]) == {"url", "ref", "secretRef", "verify"}
    assert set(prop("source", "git", "ref")["properties"]) == {"branch", "tag", "commit"}
    assert prop("source", "git", "url")["pattern"] == syncspec._GIT_URL.pattern
    assert prop("maxPrune")["pattern"] == syncspec._MAX_PRUNE.pattern
    assert prop("dependsOn", "name")["maxLength"] == syncspec._NAME_MAX


def test_full_sync_parses_into_typed_sub_specs():
    spec = SyncSpec.parse(sync(GOOD))
    assert spec.source == SourceSpec(
        git=GitSourceSpec(
            "https://example.test/repo.git", branch="main", secret_ref="git-creds", verify_secret_ref="keys"
        )
    )
    assert spec.git is spec.source.git and spec.local_path is None
    assert spec.decryption == DecryptionSpec("sops", "sops-age", "kube-system")
    assert spec.vault == VaultSpec("https://vault.example.test", "kubernetes", role="apps", refresh_interval=60.0)
    assert spec.post_build == PostBuildSpec({"CLUSTER": "prod"}, (SubstituteFromRef("ConfigMap", "vars"),))
    assert spec.post_build.wanted
    assert spec.health_checks == (HealthCheckRef("Deployment", "web", "apps/v1"),)
    assert spec.ignore_differences == (IgnoreDifference("Deployment", ("/spec/replicas",), group="apps"),)
    assert spec.depends_on == (Ref("infra", "n"),)
    assert spec.kubeconfig_secret == Ref("remote", "n", "value")
    assert spec.notifications == NotificationsSpec(("https://chat.example.test/hook",), True, True)
    assert spec.webhook == WebhookSpec("github", "hook-token")
    assert (spec.interval, spec.retry, spec.effective_timeout, spec.path) == (300, 30, 120, "./deploy")


def test_minimal_sync_defaults():
    spec = SyncSpec.parse(sync({"source": {"path": "/x"}, "interval": "1m", "prune": False}))
    assert spec.source == SourceSpec(path="/x") and spec.local_path == "/x"
    assert spec.decryption == DecryptionSpec() and spec.vault is None and spec.webhook is None
    assert spec.post_build == PostBuildSpec() and not spec.post_build.wanted
    assert spec.notifications == NotificationsSpec() and spec.kubeconfig_secret is None
    optional = SyncSpec.parse(
        sync(
            {
                "source": {"path": "/x"},
                "interval": "1m",
                "prune": False,
                "postBuild": {"substituteFrom": [{"kind": "Secret", "name": "v", "optional": True}]},
                "healthChecks": [{"kind": "ConfigMap", "name": "c", "namespace": "other"}],
                "decryption": {"sealingKeys": {}},
            }
        )
    )
    assert optional.post_build.substitute_from == (SubstituteFromRef("Secret", "v", optional=True),)
    assert optional.health_checks == (HealthCheckRef("ConfigMap", "c", "v1", "other"),)
    assert optional.decryption.sealing_keys_namespace == "kube-system"


MINIMAL = {"source": {"path": "/x"}, "interval": "1m", "prune": False}
NESTED_BAD = {
    "health check without name": ({"healthChecks": [{"kind": "Deployment"}]}, "healthChecks[0].name"),
    "optional not a boolean": (
        {"postBuild": {"substituteFrom": [{"kind": "Secret", "name": "v", "optional": "yes"}]}},
        "substituteFrom[0].optional",
    ),
    "sealing keys namespace": ({"decryption": {"sealingKeys": {"namespace": "Bad_NS"}}}, "sealingKeys.namespace"),
    "secretRef without name": ({"decryption": {"secretRef": {}}}, "decryption.secretRef.name"),
    "onFailure not a boolean": ({"notifications": {"onFailure": "no"}}, "onFailure"),
    "dependsOn name too long": ({"dependsOn": [{"name": "x" * 254}]}, "dependsOn[0].name"),
    "ignore rule group not a string": (
        {"ignoreDifferences": [{"kind": "Deployment", "group": 1, "jsonPointers": ["/a"]}]},
        "ignoreDifferences[0].group",
    ),
}


@pytest.mark.parametrize("case", sorted(NESTED_BAD))
def test_nested_rules_refused_naming_the_field(case):
    extra, field = NESTED_BAD[case]
    with pytest.raises(InvalidSyncSpec) as exc:
        SyncSpec.parse(sync({**MINIMAL, **extra}))
    assert field in exc.value.message and "Sync n/s" in exc.value.message
