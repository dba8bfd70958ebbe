"""Commit signature verification (source.git.verify) with the real git, ssh-keygen and gpg.

A Sync that trusts one SSH key and one OpenPGP key applies a commit signed by either; an unsigned
commit and a commit signed by an untrusted SSH key are refused with Ready=False VerificationFailed
naming the commit, and nothing from them is applied (the live object keeps the last verified value).
"""

from __future__ import annotations

import subprocess

import pytest

from secretsync.secretvalue import SecretBytes
from tests.agent.conftest import configmap
from tests.fixtures.peers import isolated_env, peer_binary

pytestmark = [pytest.mark.timeout(120), pytest.mark.peer]


def ssh_key(tmp_path, name: str):
    path = tmp_path / name
    subprocess.run(
        [peer_binary("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return path, path.with_suffix(".pub").read_bytes()


def gpg_key(tmp_path):
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    env = isolated_env(tmp_path, GNUPGHOME=str(home))
    subprocess.run(
        [
            peer_binary("gpg"),
            "--batch",
            "--passphrase",
            "",
            "--quick-gen-key",
            "Signer <s@example.test>",
            "ed25519",
            "sign",
            "never",
        ],
        check=True,
        capture_output=True,
        env=env,
        timeout=60,
    )
    out = subprocess.run(
        [peer_binary("gpg"), "--batch", "--with-colons", "--list-secret-keys"],
        check=True,
        capture_output=True,
        env=env,
        text=True,
        timeout=30,
    ).stdout
    fingerprint = next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:"))
    public = subprocess.run(
        [peer_binary("gpg"), "--batch", "--armor", "--export", fingerprint],
        check=True,
        capture_output=True,
        env=env,
        timeout=30,
    ).stdout
    return home, fingerprint, public


def signing(repo, **config):
    for k in [k for k in repo.env if k.startswith("GIT_CONFIG_")]:
        del repo.env[k]
    repo.env["GIT_CONFIG_COUNT"] = str(len(config))
    for i, (key, value) in enumerate(config.items()):
        repo.env[f"GIT_CONFIG_KEY_{i}"], repo.env[f"GIT_CONFIG_VALUE_{i}"] = key, value
    repo.env["GIT_CONFIG_NOSYSTEM"] = "1"


def refused(syncs, sha: str) -> str:
    """Wait until commit ``sha`` was attempted and refused; the Ready message."""
    obj = syncs.wait(
        "signed",
        lambda o: (
            (o.get("status") or {}).get("lastAttemptedRevision", "").endswith(sha)
            and syncs.condition("signed")["reason"] == "VerificationFailed"
        ),
        20,
        what=f"{sha[:8]} refused",
    )
    return next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")["message"]


def test_signed_commits_accepted_unsigned_and_foreign_refused(agent_kube, syncs, make_agent, gitrepo, tmp_path):
    ns, client = agent_kube.namespace, agent_kube.client
    trusted, trusted_pub = ssh_key(tmp_path, "trusted")
    foreign, _ = ssh_key(tmp_path, "foreign")
    gnupg, fingerprint, pgp_pub = gpg_key(tmp_path)
    client.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "signers", "namespace": ns},
            "data": {"ci.sshpub": SecretBytes(trusted_pub), "release.asc": SecretBytes(pgp_pub)},
        }
    )
    repo = gitrepo("signed")
    ssh_signed = dict(**{"gpg.format": "ssh", "user.signingkey": str(trusted), "commit.gpgsign": "true"})
    signing(repo, **ssh_signed)
    first = repo.commit({"cm.yaml": configmap("app", ns, {"v": "1"})})
    make_agent()
    syncs.create(
        "signed",
        {
            "source": {
                "git": {
                    "url": repo.url,
                    "ref": {"branch": "main"},
                    "verify": {"mode": "HEAD", "secretRef": {"name": "signers"}},
                }
            },
            "interval": "1h",
            "prune": True,
        },
    )
    syncs.wait_ready("signed", revision=first)

    signing(repo)  # unsigned
    unsigned = repo.commit({"cm.yaml": configmap("app", ns, {"v": "2"})})
    message = refused(syncs, unsigned)
    assert f"commit {unsigned[:12]}" in message and "not signed" in message
    assert client.get("v1", "ConfigMap", "app", ns)["data"] == {"v": "1"}

    signing(repo, **{"gpg.format": "ssh", "user.signingkey": str(foreign), "commit.gpgsign": "true"})
    wrong = repo.commit({"cm.yaml": configmap("app", ns, {"v": "3"})})
    message = refused(syncs, wrong)
    assert f"commit {wrong[:12]}" in message and "not trusted" in message
    assert client.get("v1", "ConfigMap", "app", ns)["data"] == {"v": "1"}

    signing(repo, **{"gpg.format": "openpgp", "user.signingkey": fingerprint, "commit.gpgsign": "true"})
    repo.env["GNUPGHOME"] = str(gnupg)
    pgp = repo.commit({"cm.yaml": configmap("app", ns, {"v": "4"})})
    syncs.wait_ready("signed", revision=pgp, timeout=20)
    assert client.get("v1", "ConfigMap", "app", ns)["data"] == {"v": "4"}
