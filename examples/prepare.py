"""Prepare the demo GitOps repository: copy ``repo/`` and encrypt / seal the secret templates into the copy.

The repository in ``repo/`` holds no secret material. The secret-bearing objects are
templates in ``templates/`` with obviously fake demo values; this script turns them into
what a real repository would hold, with keys made by the caller at run time (the real
``sops`` binary, age; the SealedSecret sealed to the given certificate). The work is done
by ``secretsync_emulator.examples`` (the one copy, shared with ``secretsync demo``; install
the emulator with ``pip install -e ./emulator``); ``templates/vault-values.yaml`` lists what
to write to Vault for ``vault-secret.yaml``.

Usage::

    python examples/prepare.py OUT_DIR --age-recipient age1... --cert sealing-cert.pem

Used by tests/reconcile/conftest.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from secretsync_emulator.examples import prepare_repository, sops_binary_encrypter

HERE = Path(__file__).resolve().parent


def prepare(out_dir: Path, age_recipient: str, certificate_pem: bytes, sops: str = "sops") -> Path:
    """Write the prepared repository to ``out_dir`` (which must not exist) and return it."""
    out_dir = Path(out_dir)
    encrypt = sops_binary_encrypter(age_recipient, sops, home=out_dir.parent)
    prepare_repository(HERE, out_dir, certificate_pem, encrypt)
    return out_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
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
