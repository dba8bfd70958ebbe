"""secretsync.render.pipeline: every transform end to end with real inputs, and the atomic result.

Covers: whole-file sops Secrets encrypted by the real sops binary (plain folder and through
``kubectl kustomize`` with namespace/labels, MAC checked on the original file, tampering and
wrong keys refused); a sops-encrypted non-Secret; Flux's nested sops values (dotenv made by
sops); SealedSecret → Secret (owner reference to the unapplied SealedSecret dropped, scope
checked after ``target_namespace``, kept as is with ``keep_sealed_secrets``); Vault
placeholders resolved from a real OpenBao; postBuild substitution; missing dependencies;
duplicates; atomicity (one broken object → nothing may be applied or pruned); no plaintext
canary in any error text. Not covered: the CLI (test_render_cli.py).
"""

from __future__ import annotations

import base64
import json
import shutil

import pytest
import yaml

from secretsync import SecretBytes
from secretsync.crypto.sealing import Scope
from secretsync.render.pipeline import Dependencies, Renderer, RenderFailed, RenderOptions, factory, render
from secretsync.sealing.keyring import Keyring
from secretsync.sops.identities import load_keys
from secretsync.sources.local import LocalSource
from tests.render.conftest import CANARY, SECRET

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: v\n"


SOPS_FORMATS = ["json", "yaml"]


def sops_file(tmp_path, sops_encrypt, text: str, out, fmt: str, **kw) -> bytes:
    """Encrypt manifest ``text`` with the real sops binary, as YAML or as JSON."""
    src = tmp_path / f"plain-{out.name}"
    src.write_text(text if fmt == "yaml" else json.dumps(yaml.safe_load(text)))
    return sops_encrypt(src, out, **kw)


@pytest.fixture
def keys(age_key):
    return load_keys(age_key.identity_file, env={}, use_defaults=False)


@pytest.fixture
def keyring(sealing_key_dir):
    return Keyring.from_dir(sealing_key_dir)


def run(root, *, deps=None, **options) -> RenderResult:  # noqa: F821
    return render(LocalSource(root), deps or Dependencies(), RenderOptions(**options))


def by_id(result) -> dict[str, dict]:
    return {str(o.id): o.object for o in result.outcomes if o.ok}


def all_error_text(result) -> str:
    return "\n".join(o.describe() + (o.error.hint or "") for o in result.errors) + result.failure().report()


@pytest.mark.peer
@pytest.mark.parametrize("fmt", SOPS_FORMATS)
def test_sops_whole_file_plain_and_through_kustomize(tree, tmp_path, sops_encrypt, keys, fmt):
    name = f"db.sops.{fmt}"
    root = tree(
        {
            "k/kustomization.yaml": yaml.safe_dump(
                {"namespace": "shop", "resources": [name], "labels": [{"pairs": {"app": "shop"}}]}
            )
        }
    )
    sops_file(tmp_path, sops_encrypt, SECRET, root / "flat" / name, fmt)
    shutil.copy(root / "flat" / name, root / "k" / name)
    (root / "flat" / "ns.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: flat\n")
    result = run(root, deps=Dependencies(sops_keys=keys))
    assert result.ok, all_error_text(result)
    flat, built = by_id(result)["Secret/db"], by_id(result)["Secret/shop/db"]
    for secret in (flat, built):
        assert "sops" not in secret
        assert secret["stringData"]["password"] == SecretBytes(f"{CANARY}-pw")
        assert secret["data"]["token"] == SecretBytes(f"{CANARY}-token")
    assert built["metadata"]["labels"] == {"app": "shop"}


@pytest.mark.peer
@pytest.mark.parametrize("fmt", SOPS_FORMATS)
def test_sops_non_secret_object(tree, tmp_path, sops_encrypt, keys, fmt):
    root = tree({})
    sops_file(
        tmp_path,
        sops_encrypt,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  url: postgres://x\n",
        root / f"cfg.{fmt}",
        fmt,
        encrypted_regex="^data$",
    )
    result = run(root, deps=Dependencies(sops_keys=keys))
    assert result.objects()[0]["data"] == {"url": "postgres://x"}


@pytest.mark.peer
@pytest.mark.parametrize("fmt", SOPS_FORMATS)
def test_sops_tampered_file_and_wrong_key_fail_without_plaintext(tree, tmp_path, sops_encrypt, keys, fmt):
    root = tree({"ok.yaml": CM.format(name="fine")})
    db = root / f"db.{fmt}"
    raw = sops_file(tmp_path, sops_encrypt, SECRET, db, fmt)
    tampered = raw.replace(b"Opaque", b"Other")  # a clear value, covered by the MAC
    assert tampered != raw
    db.write_bytes(tampered)
    result = run(root, deps=Dependencies(sops_keys=keys))
    assert not result.ok and [o.file for o in result.errors] == [db.name]
    assert result.errors[0].stage == "sops" and "MAC" in result.errors[0].describe()
    assert CANARY not in all_error_text(result)
    with pytest.raises(RenderFailed) as info:
        result.objects()
    assert info.value.exit_code == 3

    db.write_bytes(raw)
    other = tmp_path / "other-key.txt"
    import pyrage

    other.write_text(str(pyrage.x25519.Identity.generate()) + "\n")
    result = run(root, deps=Dependencies(sops_keys=load_keys(other, env={}, use_defaults=False)))
    assert not result.ok and result.errors[0].file == db.name and CANARY not in all_error_text(result)
    result = run(root)  # no keys given at all
    assert not result.ok and "age key" in (result.errors[0].error.hint or "")


@pytest.mark.peer
def test_flux_nested_sops_value(tree, tmp_path, sops_encrypt, keys):
    env_file = tmp_path / "creds.env"
    env_file.write_text(f"PASSWORD={CANARY}\n")
    encrypted = sops_encrypt(env_file, tmp_path / "creds.enc.env", encrypted_regex=None, input_type="dotenv")
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "nested"},
        "data": {"creds.env": base64.b64encode(encrypted).decode(), "plain": "YQ=="},
    }
    root = tree({"s.yaml": yaml.safe_dump(secret)})
    result = run(root, deps=Dependencies(sops_keys=keys))
    data = result.objects()[0]["data"]
    assert data["creds.env"].reveal() == f"PASSWORD={CANARY}\n".encode() and data["plain"] == SecretBytes(b"a")


def sealed_yaml(seal, namespace="demo", scope=None, name="api") -> str:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "stringData": {"token": CANARY},
    }
    return yaml.safe_dump(seal(secret, scope))


def test_sealed_secret_unsealed(tree, seal, keyring):
    root = tree({"sealed.yaml": sealed_yaml(seal), "cm.yaml": CM.format(name="c")})
    result = run(root, deps=Dependencies(keyring=keyring))
    objects = by_id(result)
    assert set(objects) == {"Secret/demo/api", "ConfigMap/c"}  # the SealedSecret itself is not emitted
    secret = objects["Secret/demo/api"]
    assert secret["data"]["token"] == SecretBytes(CANARY)
    assert "ownerReferences" not in secret["metadata"]


def test_keep_sealed_secrets(tree, seal):
    root = tree({"sealed.yaml": sealed_yaml(seal)})
    result = run(root, keep_sealed_secrets=True)  # no keyring needed: nothing is unsealed
    assert [o["kind"] for o in result.objects()] == ["SealedSecret"]


def test_sealed_scope_checked_after_target_namespace(tree, seal, keyring):
    root = tree({"strict.yaml": sealed_yaml(seal, "demo")})
    assert run(root, deps=Dependencies(keyring=keyring), target_namespace="demo").ok
    moved = run(root, deps=Dependencies(keyring=keyring), target_namespace="elsewhere")
    assert not moved.ok and moved.errors[0].stage == "unseal"
    assert "elsewhere" in moved.errors[0].describe() and CANARY not in all_error_text(moved)
    wide = tree({"strict.yaml": sealed_yaml(seal, "demo", Scope.CLUSTER_WIDE)})
    result = run(wide, deps=Dependencies(keyring=keyring), target_namespace="elsewhere")
    assert set(by_id(result)) == {"Secret/elsewhere/api"}


def test_missing_keyring_names_the_flag_and_factory_called_once(tree, seal, sealing_key_dir):
    root = tree({"a.yaml": sealed_yaml(seal), "b.yaml": sealed_yaml(seal, name="api2")})
    result = run(root)
    assert not result.ok and all("--key-dir" in (o.error.hint or "") for o in result.errors)
    calls = []

    @factory
    def make():
        calls.append(1)
        return Keyring.from_dir(sealing_key_dir)

    assert run(root, deps=Dependencies(keyring=make)).ok and calls == [1]


@pytest.mark.peer
def test_vault_placeholders_from_openbao(tree, openbao):
    from secretsync.vault.client import VaultBackend

    client = openbao.client()
    mount = openbao.unique_mount("kv")
    client.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    client.secrets.kv.v2.create_or_update_secret(path="app", secret={"password": CANARY}, mount_point=mount)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "v", "annotations": {"avp.kubernetes.io/path": f"{mount}/data/app"}},
        "stringData": {"password": "<password>"},
    }
    inline = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "inline"},
        "data": {"p": f"<path:{mount}/data/app#password>"},
    }
    root = tree({"v.yaml": yaml.safe_dump(secret), "i.yaml": yaml.safe_dump(inline), "c.yaml": CM.format(name="c")})
    env = {"AVP_TYPE": "vault", "AVP_AUTH_TYPE": "token", "VAULT_ADDR": openbao.addr, "VAULT_TOKEN": openbao.token}
    backend = VaultBackend.from_env(env)
    result = run(root, deps=Dependencies(vault=backend))
    objects = by_id(result)
    assert objects["Secret/v"]["stringData"]["password"] == SecretBytes(CANARY)
    assert objects["ConfigMap/inline"]["data"]["p"] == CANARY
    # One read for the path, however many objects reference it.
    before = backend.requests_sent
    run(root, deps=Dependencies(vault=backend))
    assert backend.requests_sent - before == 1

    missing = {**secret, "metadata": {**secret["metadata"], "name": "m"}, "stringData": {"x": "<nokey>"}}
    root2 = tree({"m.yaml": yaml.safe_dump(missing)})
    result = run(root2, deps=Dependencies(vault=backend))
    assert not result.ok and result.errors[0].stage == "vault" and CANARY not in all_error_text(result)
    assert not run(root, deps=Dependencies()).ok  # no Vault configured


def test_substitution_in_pipeline(tree):
    root = tree({"d.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: ${N}\n"})
    assert run(root).objects()[0]["spec"]["replicas"] == "${N}"  # no variables: substitution is off
    assert run(root, variables={"N": "2"}).objects()[0]["spec"]["replicas"] == 2
    failed = run(root, variables={})
    assert not failed.ok and "variable 'N'" in failed.errors[0].describe()


def test_target_namespace_leaves_cluster_scoped_objects(tree):
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "globals.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Cluster",
            "names": {"kind": "Global", "plural": "globals"},
            "versions": [{"name": "v1", "served": True, "storage": True}],
        },
    }
    root = tree(
        {
            "crd.yaml": yaml.safe_dump(crd),
            "g.yaml": "apiVersion: example.com/v1\nkind: Global\nmetadata:\n  name: g\n",
            "ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: other\n",
            "cm.yaml": CM.format(name="c") + "  x: y\n",
        }
    )
    ids = set(by_id(run(root, target_namespace="t")))
    assert ids == {
        "CustomResourceDefinition.apiextensions.k8s.io/globals.example.com",
        "Global.example.com/g",
        "Namespace/other",
        "ConfigMap/t/c",
    }


def test_empty_render(tree):
    result = run(tree({"README.md": "nothing here"}))
    assert result.ok and result.empty and result.objects() == []
    assert not run(tree({"a.yaml": CM.format(name="a")})).empty


def test_atomic_result(tree):
    root = tree(
        {
            "a.yaml": CM.format(name="a"),
            "b.yaml": CM.format(name="b") + "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: bad\n"
            f"data:\n  k: not-base64-{CANARY}\n",
            "c.yaml": CM.format(name="a"),  # duplicate of a.yaml's object
            "d.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: w\n  annotations:\n"
            "    secretsync.io/sync-wave: later\n",
        }
    )
    result = run(root)
    assert not result.ok and not result.may_apply and not result.may_prune
    assert [(o.file, o.index) for o in result.errors] == [("b.yaml", 1), ("c.yaml", 0), ("d.yaml", 0)]
    assert [o.file for o in result.outcomes if o.ok] == ["a.yaml", "b.yaml"]
    with pytest.raises(RenderFailed) as info:
        result.objects()
    report = info.value.report()
    assert "nothing may be applied or pruned" in report and "b.yaml (document 1) Secret/bad" in report
    assert "also defined in a.yaml (document 0)" in report and "sync-wave must be an integer" in report
    assert CANARY not in report and info.value.exit_code == 1


def test_renderer_cache_does_not_leak_between_renders(tree):
    root = tree({"s.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  a: ${V}\n"})
    renderer = Renderer(options=RenderOptions(variables={"V": "one"}))
    revision = LocalSource(root).fetch()
    first = renderer.render_revision(revision).objects()[0]
    first["metadata"]["name"] = "mutated"
    second = renderer.render_revision(revision).objects()[0]
    assert second["metadata"]["name"] == "s" and second["stringData"]["a"] == SecretBytes(b"one")
    assert renderer.builds == 1


@pytest.mark.peer
def test_kustomize_secret_generator_with_sops_file(tree, tmp_path, sops_encrypt, keys):
    """Flux's nested convention through kustomize: a secretGenerator fed by a sops dotenv file."""
    env_file = tmp_path / "app.env"
    env_file.write_text(f"API_KEY={CANARY}\n")
    root = tree(
        {
            "k/kustomization.yaml": yaml.safe_dump(
                {
                    "namespace": "gen",
                    "generatorOptions": {"disableNameSuffixHash": True},
                    "secretGenerator": [{"name": "app", "files": ["app.env=app.sops.env"]}],
                }
            )
        }
    )
    sops_encrypt(env_file, root / "k" / "app.sops.env", encrypted_regex=None, input_type="dotenv")
    result = run(root, deps=Dependencies(sops_keys=keys))
    secret = by_id(result)["Secret/gen/app"]
    assert secret["data"]["app.env"].reveal() == f"API_KEY={CANARY}\n".encode()


def test_failure_report_is_capped(tree):
    root = tree({f"f{i:03}.yaml": "a: [\n" for i in range(60)})
    report = run(root).failure().report()
    assert report.startswith("60 object(s)") and "... and 10 more" in report and report.count("invalid YAML") == 50


def test_internal_error_in_a_transform_keeps_its_text_out_of_the_debug_log(tree, caplog):
    """A bug in a dependency (here a Vault reader raising a bare ValueError that quotes a value) fails the
    object as an internal error; the debug log shows where, never the exception's text."""
    import logging

    class BrokenReader:
        def read(self, path, version=None, kv=None):
            raise ValueError(f"invalid literal for int() with base 10: {CANARY!r}")

    caplog.set_level(logging.DEBUG)
    root = tree(
        {
            "s.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  annotations:\n"
            "    avp.kubernetes.io/path: secret/data/x\nstringData:\n  a: <a>\n"
        }
    )
    result = run(root, deps=Dependencies(vault=BrokenReader()))
    assert not result.ok
    assert "internal error ValueError" in all_error_text(result)
    assert CANARY not in all_error_text(result) and CANARY not in caplog.text
    assert "ValueError" in caplog.text and "pipeline.py" in caplog.text
