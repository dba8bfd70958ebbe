"""postBuild.substituteFrom in the agent, through the one implementation the CLI uses too
(``secretsync.render.substitute.collect_variables``): a missing source marked ``optional`` is skipped,
a missing one that is not optional fails the build (BuildFailed, naming the object), and a variable
name that is not a name (``bad-name``) fails the build instead of being applied. Not covered here:
precedence and Secret values (``test_remote.py``), the CLI entry point (``tests/render/test_substitute.py``).
"""

from __future__ import annotations

import pytest
import yaml

from tests.agent.conftest import write_tree

pytestmark = pytest.mark.timeout(120)


def _tree(tmp_path, ns):
    return write_tree(
        tmp_path / "src",
        {
            "cm.yaml": yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "app", "namespace": ns},
                    "data": {"color": "${COLOR:=grey}"},
                }
            )
        },
    )


def _spec(root, refs):
    return {
        "source": {"path": str(root)},
        "interval": "1h",
        "prune": True,
        "postBuild": {"substituteFrom": refs},
    }


def test_optional_source_skipped_and_missing_one_fails(agent_kube, syncs, make_agent, tmp_path):
    ns, client = agent_kube.namespace, agent_kube.client
    root = _tree(tmp_path, ns)
    make_agent()
    syncs.create("optional", _spec(root, [{"kind": "ConfigMap", "name": "absent", "optional": True}]))
    syncs.wait_ready("optional")
    assert client.get("v1", "ConfigMap", "app", ns)["data"] == {"color": "grey"}
    syncs.create("required", _spec(root, [{"kind": "Secret", "name": "absent"}]))
    obj = syncs.wait_reason("required", "BuildFailed")
    ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    assert f"postBuild.substituteFrom: Secret {ns}/absent not found" in ready["message"]


def test_invalid_variable_name_fails_the_build(agent_kube, syncs, make_agent, tmp_path):
    ns, client = agent_kube.namespace, agent_kube.client
    client.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "vars", "namespace": ns},
            "data": {"COLOR": "teal", "bad-name": "x"},
        }
    )
    root = _tree(tmp_path, ns)
    make_agent()
    syncs.create("names", _spec(root, [{"kind": "ConfigMap", "name": "vars"}]))
    obj = syncs.wait_reason("names", "BuildFailed")
    ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
    assert "invalid variable name 'bad-name'" in ready["message"]
    assert client.get_or_none("v1", "ConfigMap", "app", ns) is None
