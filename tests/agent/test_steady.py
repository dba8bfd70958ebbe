"""The steady state of the agent does no needless work, and stays safe.

Covers: reconciles on the interval with nothing changed reuse the last render (no transform, so no
decryption) while the apply still compares against the live state (a hand edit is reverted at the
next interval even with drift repair off); Syncs on the same repository URL and ref share one
`git ls-remote` per tick; a new commit still reaches them all; a manual requestedAt trigger renders
again. (A changed Vault value reaching its Secret despite the reuse is in test_triggers.py.)
"""

from __future__ import annotations

import pytest

from secretsync.sources.git import GitSource
from tests.agent.conftest import configmap, wait_for

pytestmark = pytest.mark.timeout(120)


def test_no_change_reconciles_reuse_the_render_but_check_live(agent_kube, syncs, make_agent, tmp_path):
    from tests.agent.conftest import write_tree

    ns, client = agent_kube.namespace, agent_kube.client
    root = write_tree(tmp_path / "src", {"cm.yaml": configmap("app", ns, {"v": "1"})})
    agent = make_agent(drift=False)
    syncs.create("steady", {"source": {"path": str(root)}, "interval": "1s", "prune": True})
    syncs.wait_ready("steady")
    state = agent.reconciler.states[(ns, "steady")]
    transforms = []
    original = state.renderer.transform
    state.renderer.transform = lambda *a, **kw: (transforms.append(1), original(*a, **kw))[1]
    done = agent.metrics.total.labels("success")._value.get()
    assert wait_for(lambda: agent.metrics.total.labels("success")._value.get() >= done + 2, 10)
    assert transforms == []  # nothing changed: no re-render
    client.patch("v1", "ConfigMap", "app", ns, {"data": {"v": "edited"}}, field_manager="someone")
    assert wait_for(lambda: client.get("v1", "ConfigMap", "app", ns)["data"] == {"v": "1"}, 10)
    assert transforms == []  # live state still checked each interval
    syncs.patch("steady", {"metadata": {"annotations": {"secretsync.io/requestedAt": "now-1"}}})
    assert wait_for(lambda: transforms, 10)  # a manual trigger renders again


def test_syncs_on_one_repository_share_ls_remote(agent_kube, syncs, make_agent, gitrepo, monkeypatch):
    ns, client = agent_kube.namespace, agent_kube.client
    calls = []
    original = GitSource.resolve
    monkeypatch.setattr(GitSource, "resolve", lambda self: (calls.append(self.url), original(self))[1])
    repo = gitrepo("shared")
    first = repo.commit({f"s{i}/cm.yaml": configmap(f"app{i}", ns, {"v": "1"}) for i in range(3)})
    agent = make_agent(source_poll=3600)
    for i in range(3):
        syncs.create(f"s{i}", {"source": {"git": {"url": repo.url}}, "path": f"s{i}", "interval": "1s", "prune": True})
    for i in range(3):
        syncs.wait_ready(f"s{i}", revision=first)
    calls.clear()
    done = agent.metrics.total.labels("success")._value.get()
    assert wait_for(lambda: agent.metrics.total.labels("success")._value.get() >= done + 9, 20)
    reconciles = agent.metrics.total.labels("success")._value.get() - done
    assert len(calls) * 2 <= reconciles, (len(calls), reconciles)  # shared, not one per reconcile
    second = repo.commit({f"s{i}/cm.yaml": configmap(f"app{i}", ns, {"v": "2"}) for i in range(3)})
    for i in range(3):
        syncs.wait_ready(f"s{i}", revision=second, timeout=20)
    assert all(client.get("v1", "ConfigMap", f"app{i}", ns)["data"] == {"v": "2"} for i in range(3))
