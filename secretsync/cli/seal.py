"""``secretsync seal``: kubeseal's command line.

Same flags, defaults, dispatch order and error texts as kubeseal (every flag also
from ``SEALED_SECRETS_<FLAG>``; the command line wins). The certificate comes from
``--cert FILE|URL``, as a secretsync extension from the newest key of ``--key-dir``,
and otherwise from the controller (``--controller-name`` in ``--controller-namespace``)
through the API server's service proxy, as kubeseal fetches it:
``/api/v1/namespaces/NS/services/http:NAME:PORT/proxy/v1/cert.pem`` where PORT is the
name of the Service's first port. ``--validate`` and ``--re-encrypt`` ask the controller
the same way (``/v1/verify``, ``/v1/rotate``), or work offline with ``--key-dir`` /
``--recovery-private-key``. The work is the library's: ``secretsync.sealing.controllerclient``
(the controller and the certificate), ``secretsync.sealing.objects`` (seal),
``secretsync.sealing.reencrypt``, ``secretsync.sealing.recovery`` and
``secretsync.sealing.kubesealio``; the Kubernetes client is made here, from the kubeconfig flags.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cryptography import x509

from secretsync.cli import exit_codes
from secretsync.cli.options import BoolFlagAction, CommaListAction, parse_go_bool
from secretsync.crypto import sealing
from secretsync.errors import SecretsyncError
from secretsync.manifests.dump import dump_kubeseal
from secretsync.sealing import objects as sealedsecret
from secretsync.sealing.controllerclient import ControllerClient, NoClient, ServiceProxyClient, fetch_certificate
from secretsync.sealing.keyring import load_certificate
from secretsync.sealing.kubesealio import context_namespace, output_format, read_input, write_output
from secretsync.sealing.recovery import recover, recovery_keyring
from secretsync.sealing.reencrypt import as_kubeseal_output, re_encrypt

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    p = parser.add_argument
    p(
        "--cert",
        default="",
        help="certificate file or URL (http(s)://, file://); without it: --key-dir, "
        "else the controller through the API server",
    )
    p("--controller-namespace", default="kube-system", help="namespace of the sealed-secrets controller")
    p("--controller-name", default="sealed-secrets-controller", help="name of the sealed-secrets controller")
    p("--fetch-cert", action=BoolFlagAction, help="write the certificate to stdout and exit")
    p("-f", "--secret-file", default="", help="Secret input file (default stdin)")
    p("-w", "--sealed-secret-file", default="", help="output file (default stdout); written atomically on success")
    p("-o", "--format", default="json", help="output format: json (default) or yaml")
    p("--scope", default="", help="strict (default), namespace-wide or cluster-wide")
    p("--raw", action=BoolFlagAction, help="encrypt one raw value (from --from-file or stdin), print its base64")
    p("--name", default="", help="Secret name (with --raw)")
    p("--from-file", action="append", default=[], help="[key=]path of the raw value (with --raw)")
    p("--merge-into", default="", help="merge the sealed items into this existing SealedSecret file")
    p("--allow-empty-data", action=BoolFlagAction, help="allow a Secret without data or stringData")
    p(
        "--validate",
        action=BoolFlagAction,
        help="ask the controller whether the input SealedSecrets decrypt "
        "(offline with --key-dir or --recovery-private-key)",
    )
    p(
        "--re-encrypt",
        "--rotate",
        dest="re_encrypt",
        action=BoolFlagAction,
        help="re-encrypt the input SealedSecrets with the controller's newest key (offline with --key-dir)",
    )
    p("--recovery-unseal", action=BoolFlagAction, help="decrypt a SealedSecret with private keys")
    p(
        "--recovery-private-key",
        action=CommaListAction,
        default=[],
        metavar="FILE",
        help="private key files for --recovery-unseal (repeatable, comma-separated)",
    )
    p("--key-dir", default="", help="secretsync key directory: certificate, --validate and --re-encrypt offline")
    p("-n", "--namespace", default="", help="namespace of the Secret (default: kubeconfig context, then default)")
    p("--kubeconfig", default="", help="kubeconfig file (default $KUBECONFIG, then ~/.kube/config)")
    p("--context", default="", help="kubeconfig context to use")
    _env_defaults(parser)


def _env_defaults(parser: argparse.ArgumentParser) -> None:
    """Every long flag falls back to ``SEALED_SECRETS_<FLAG>`` (kubeseal's env override)."""
    for action in parser._actions:  # noqa: SLF001 - argparse offers no public iteration
        longs = [o for o in action.option_strings if o.startswith("--") and o != "--help"]
        if not longs:
            continue
        name = "SEALED_SECRETS_" + longs[0][2:].upper().replace("-", "_")
        value = os.environ.get(name)
        if value in (None, ""):
            continue
        if isinstance(action, BoolFlagAction):
            action.default = parse_go_bool(value)
        elif isinstance(action, CommaListAction):
            action.default = [v for v in value.split(",") if v]
        elif action.default == [] or isinstance(action.default, list):
            action.default = [value]
        else:
            action.default = value


# ---------------------------------------------------------------------------------------------- the controller


def _connect(args: argparse.Namespace) -> Callable[[], ServiceProxyClient]:
    """Makes the API client from the kubeconfig flags, when the controller is first asked."""

    def connect() -> ServiceProxyClient:
        from secretsync.kube.client import KubeClient
        from secretsync.kube.errors import KubeConfigError

        try:
            # the path explicitly: the library reads $KUBECONFIG only once, when first imported
            return KubeClient.from_kubeconfig(
                args.kubeconfig or os.environ.get("KUBECONFIG") or None, args.context or None
            )
        except KubeConfigError as exc:
            raise NoClient(
                exc.message,
                hint="pass --cert FILE|URL (or SEALED_SECRETS_CERT) or --key-dir DIR, "
                "or a kubeconfig (--kubeconfig, --context) to reach the controller",
            ) from None

    return connect


def _controller(args: argparse.Namespace) -> ControllerClient:
    return ControllerClient(_connect(args), args.controller_namespace, args.controller_name)


# ---------------------------------------------------------------------------------------------- commands


def _raw(args: argparse.Namespace, cert: x509.Certificate) -> str:
    scope = sealing.parse_scope(args.scope)
    namespace = args.namespace
    if scope is sealing.Scope.STRICT:
        if not namespace:
            raise SecretsyncError("must provide the --namespace flag with --raw and --scope strict")
        if not args.name:
            raise SecretsyncError("must provide the --name flag with --raw and --scope strict")
    elif scope is sealing.Scope.NAMESPACE_WIDE and not namespace:
        raise SecretsyncError("must provide the --namespace flag with --raw and --scope namespace-wide")
    if len(args.from_file) > 1:
        raise SecretsyncError("must provide only one --from-file with --raw")
    if args.from_file:
        path = args.from_file[0].split("=", 1)[1] if "=" in args.from_file[0] else args.from_file[0]
        try:
            value = Path(path).read_bytes()
        except OSError as exc:
            raise SecretsyncError(f"cannot read {path}: {exc.strerror}") from None
    else:
        value, _ = read_input("")
    return sealedsecret.seal_value(cert, value, scope, namespace, args.name)


def _seal_all(args: argparse.Namespace, cert: x509.Certificate, data: bytes, source: str) -> list[dict[str, Any]]:
    secrets = sealedsecret.load_documents(data, source)
    if not secrets:
        raise SecretsyncError("no secrets found. Ensure the input is valid and UTF-8 encoded")
    scope = sealing.parse_scope(args.scope)
    default_ns = context_namespace(args.kubeconfig, args.context)
    return [
        sealedsecret.seal_secret(
            s,
            cert,
            scope,
            namespace=args.namespace or None,
            default_namespace=default_ns,
            allow_empty_data=args.allow_empty_data,
        )
        for s in secrets
    ]


def _merge_into(args: argparse.Namespace, cert: x509.Certificate, data: bytes, source: str, fmt: str) -> None:
    target = args.merge_into
    existing_docs = sealedsecret.load_documents(Path(target).read_bytes() if Path(target).is_file() else b"", target)
    if len(existing_docs) != 1 or existing_docs[0].get("kind") != sealedsecret.KIND:
        raise SecretsyncError(f"{target}: --merge-into needs a file holding exactly one SealedSecret")
    secrets = sealedsecret.load_documents(data, source)
    if not secrets:
        raise SecretsyncError("no secrets found. Ensure the input is valid and UTF-8 encoded")
    scope = sealing.parse_scope(args.scope)
    merged = sealedsecret.seal_merged(existing_docs[0], secrets, cert, scope, allow_empty_data=args.allow_empty_data)
    write_output(dump_kubeseal([merged], fmt), target)


def _offline(args: argparse.Namespace) -> bool:
    """``--validate``/``--re-encrypt`` with local keys instead of asking the controller."""
    return bool(args.key_dir or args.recovery_private_key)


def _validate(args: argparse.Namespace, data: bytes, source: str) -> int:
    objects = sealedsecret.load_documents(data, source)
    decrypts: Callable[[Mapping[str, Any]], bool]
    if _offline(args):
        keyring = recovery_keyring(args.recovery_private_key, args.key_dir)

        def unseals(obj: Mapping[str, Any]) -> bool:
            try:
                sealedsecret.unseal_sealed_secret(obj, keyring)
            except sealedsecret.UnsealError:
                return False
            return True

        decrypts = unseals
    else:
        decrypts = _controller(args).verify
    failed = [str((obj.get("metadata") or {}).get("name") or "<unnamed>") for obj in objects if not decrypts(obj)]
    if failed:
        raise SecretsyncError(
            "\n".join(f"unable to decrypt sealed secret: {n}" for n in failed),
            reference="validate-failed",
            exit_code=exit_codes.DECRYPT_FAILED,
        )
    return 0


def _re_encrypt(args: argparse.Namespace, data: bytes, source: str, fmt: str) -> None:
    out = []
    if _offline(args):
        keyring = recovery_keyring(args.recovery_private_key, args.key_dir)
        for obj in sealedsecret.load_documents(data, source):
            out.append(as_kubeseal_output(re_encrypt(obj, keyring).sealed_secret))
    else:
        controller = _controller(args)
        out = [controller.rotate(obj) for obj in sealedsecret.load_documents(data, source)]
    target = args.sealed_secret_file or (args.secret_file if args.secret_file not in ("", "-") else "")
    write_output(dump_kubeseal(out, fmt), target)


def run(args: argparse.Namespace) -> int:
    if args.from_file and not args.raw:
        raise SecretsyncError("--from-file requires --raw")
    fmt = output_format(args.format, args.sealed_secret_file)
    try:
        sealing.parse_scope(args.scope)
    except ValueError as exc:
        raise SecretsyncError(str(exc)) from None
    if args.recovery_unseal:
        keyring = recovery_keyring(args.recovery_private_key, args.key_dir or None)
        data, source = read_input(args.secret_file)
        write_output(recover(data, source, keyring, fmt), args.sealed_secret_file, private=True)
        return 0
    if args.validate:
        data, source = read_input(args.secret_file)
        return _validate(args, data, source)
    if args.re_encrypt:
        data, source = read_input(args.secret_file)
        _re_encrypt(args, data, source, fmt)
        return 0
    pem = fetch_certificate(args.cert, args.key_dir, _controller(args))
    if args.fetch_cert:
        write_output(pem, args.sealed_secret_file)
        return 0
    where = args.cert or (
        f"newest key of {args.key_dir}"
        if args.key_dir
        else f"controller {args.controller_namespace}/{args.controller_name}"
    )
    cert = load_certificate(pem, where)
    if args.merge_into:
        data, source = read_input(args.secret_file)
        _merge_into(args, cert, data, source, output_format(args.format))
        return 0
    if args.raw:
        write_output(_raw(args, cert), args.sealed_secret_file)
        return 0
    data, source = read_input(args.secret_file)
    write_output(dump_kubeseal(_seal_all(args, cert, data, source), fmt), args.sealed_secret_file)
    return 0
