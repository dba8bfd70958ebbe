"""Prepare the demo GitOps repository: copy ``repo/`` and encrypt / seal the secret templates into the copy.

The repository in ``repo/`` holds no secret material. The secret-bearing objects are
templates in ``templates/`` with obviously fake demo values; this script turns them into
what a real repository would hold, with keys made by the caller at run time:

- ``templates/db-credentials.yaml``     → ``db-credentials.sops.yaml`` (real ``sops`` binary, age)
- ``templates/cache/redis-auth.yaml``   → ``cache/redis-auth.sops.yaml`` (inside a kustomize folder)
- ``templates/api-token.yaml``          → ``api-token.sealedsecret.yaml`` (sealed to the certificate)

``templates/vault-values.yaml`` lists what to write to Vault for ``vault-secret.yaml``.

Usage::

    python examples/prepare.py OUT_DIR --age-recipient age1... --cert sealing-cert.pem

Used by tests/render/test_examples.py and the demo.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOPS_TEMPLATES = {
    "db-credentials.yaml": "db-credentials.sops.yaml",
    "cache/redis-auth.yaml": "cache/redis-auth.sops.yaml",
}
SEALED_TEMPLATES = {"api-token.yaml": "api-token.sealedsecret.yaml"}


def prepare(out_dir: Path, age_recipient: str, certificate_pem: bytes, sops: str = "sops") -> Path:
    """Write the prepared repository to ``out_dir`` (which must not exist) and return it."""
    from secretsync.manifests.loader import dump_all, load_manifests
    from secretsync.sealing.keyring import load_certificate
    from secretsync.sealing.objects import seal_secret

    out_dir = Path(out_dir)
    shutil.copytree(HERE / "repo", out_dir)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(out_dir.parent),
        "SOPS_DISABLE_VERSION_CHECK": "1",
    }
    for template, target in SOPS_TEMPLATES.items():
        proc = subprocess.run(
            [
                sops,
                "--disable-version-check",
                "encrypt",
                "--age",
                age_recipient,
                "--encrypted-regex",
                "^(data|stringData)$",
                str(HERE / "templates" / template),
            ],
            capture_output=True,
            env=env,
            timeout=60,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"sops failed on {template}: {proc.stderr.decode(errors='replace').strip()}")
        (out_dir / target).write_bytes(proc.stdout)
    certificate = load_certificate(certificate_pem, "sealing certificate")
    for template, target in SEALED_TEMPLATES.items():
        data = (HERE / "templates" / template).read_bytes()
        secret = load_manifests(data, template)[0][1]
        (out_dir / target).write_text(dump_all([seal_secret(secret, certificate)]))
    return out_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--age-recipient", required=True, help="age public key the sops files are encrypted to")
    parser.add_argument("--cert", required=True, type=Path, help="sealing certificate (PEM)")
    parser.add_argument("--sops", default="sops", help="the sops binary")
    args = parser.parse_args(argv)
    prepare(args.out_dir, args.age_recipient, args.cert.read_bytes(), args.sops)
    print(args.out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
