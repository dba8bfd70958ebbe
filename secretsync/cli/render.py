"""``secretsync render SOURCE``: the fully resolved objects of a source as a YAML stream on stdout.

Parses flags, builds the dependencies, calls ``secretsync.render.pipeline``, prints. Secret values
print as ``<redacted:hmac-sha256:…>`` (an HMAC-SHA256 of the value, truncated to 16 hex digits)
unless ``--show-secrets``. The HMAC key is per invocation (random) unless one is given with
``--redaction-key-file`` or ``SECRETSYNC_REDACTION_KEY``: with the same key, two renders can be
compared value by value without revealing any. When any object fails, nothing is printed on
stdout and every failure is listed on stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import sys
from pathlib import Path
from typing import Any

from secretsync.cli import options
from secretsync.errors import UsageError
from secretsync.manifests.dump import dump_all
from secretsync.objects import sort_for_apply
from secretsync.secretvalue import SecretBytes

REDACTION_KEY_ENV = "SECRETSYNC_REDACTION_KEY"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_source_arguments(parser)
    parser.add_argument(
        "--show-secrets", action="store_true", help="print Secret values in clear (default: a keyed hash of each value)"
    )
    parser.add_argument(
        "--redaction-key-file",
        default=None,
        help=f"key for the redaction hashes (default ${REDACTION_KEY_ENV}, else random per run)",
    )


def _redaction_key(args: argparse.Namespace) -> bytes:
    if args.redaction_key_file:
        try:
            key = Path(args.redaction_key_file).read_bytes().strip()
        except OSError as exc:
            raise UsageError(f"--redaction-key-file {args.redaction_key_file}: cannot read: {exc.strerror}") from None
        if not key:  # an empty HMAC key turns every marker into a plain hash anyone can test guesses against
            raise UsageError(
                f"--redaction-key-file {args.redaction_key_file}: the file is empty",
                hint="put the installation's redaction key in it, or leave the flag out for a random key",
            )
        return key
    from_env = os.environ.get(REDACTION_KEY_ENV)
    if from_env:
        return from_env.encode()
    return os.urandom(32)


def redact(value: SecretBytes, key: bytes) -> str:
    """``<redacted:hmac-sha256:…>``: equal values give equal markers under the same key."""
    digest = hmac.new(key, value.reveal(), hashlib.sha256).hexdigest()[:16]
    return f"<redacted:hmac-sha256:{digest}>"


def present(obj: dict[str, Any], show: bool, key: bytes) -> dict[str, Any]:
    """``obj`` ready for YAML: SecretBytes become base64 / text (``show``) or redaction markers."""
    is_secret = obj.get("kind") == "Secret"

    def walk(value: Any, path: tuple[str | int, ...]) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, path + (k,)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, path + (i,)) for i, v in enumerate(value)]
        if isinstance(value, SecretBytes):
            if not show:
                return redact(value, key)
            if is_secret and path[:1] == ("data",):
                return value.to_base64()
            try:
                return value.reveal_text()
            except UnicodeDecodeError:
                return value.to_base64()
        return value

    out: dict[str, Any] = walk(obj, ())
    if show and is_secret and isinstance(obj.get("stringData"), dict):
        # binary stringData cannot be shown as text: move it to data (base64), as the API would store it.
        for k, v in obj["stringData"].items():
            if isinstance(v, SecretBytes):
                try:
                    v.reveal_text()
                except UnicodeDecodeError:
                    out.setdefault("data", {})[k] = v.to_base64()
                    del out["stringData"][k]
    return out


def run(args: argparse.Namespace) -> int:
    from secretsync.render.request import render_request

    key = b"" if args.show_secrets else _redaction_key(args)
    result = render_request(options.render_request(args))
    objects = result.objects()  # raises RenderFailed (nothing printed) unless every object rendered
    text = dump_all(present(o, args.show_secrets, key) for o in sort_for_apply(objects))
    sys.stdout.write(text)
    return 0
