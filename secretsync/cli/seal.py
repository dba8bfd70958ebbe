"""``secretsync seal``: kubeseal's command line.

Same flags, defaults, dispatch order and error texts as kubeseal (every flag also
from ``SEALED_SECRETS_<FLAG>``; the command line wins). The certificate comes from
``--cert FILE|URL``, as a secretsync extension from the newest key of ``--key-dir``,
and otherwise from the controller (``--controller-name`` in ``--controller-namespace``)
through the API server's service proxy, as kubeseal fetches it:
``/api/v1/namespaces/NS/services/http:NAME:PORT/proxy/v1/cert.pem`` where PORT is the
name of the Service's first port. ``--validate`` and ``--re-encrypt`` ask the controller
the same way (``/v1/verify``, ``/v1/rotate``), or work offline with ``--key-dir`` /
``--recovery-private-key``. The Kubernetes API is reached only through
``secretsync.kube.client``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path

import yaml

from secretsync.cli import exit_codes
from secretsync.cli import unseal as unseal_cli
from secretsync.cli.options import BoolFlagAction, CommaListAction, parse_go_bool
from secretsync.crypto import sealing
from secretsync.errors import SecretsyncError
from secretsync.sealing import objects as sealedsecret
from secretsync.sealing.keyring import Keyring, load_certificate

__all__ = ["add_arguments", "run", "fetch_certificate", "context_namespace", "Controller", "go_error_text"]

_CERT_TIMEOUT = 30


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


def context_namespace(kubeconfig: str = "", context: str = "") -> str:
    """The namespace kubectl would use: the context's, else ``default`` (no cluster access)."""
    paths = [kubeconfig] if kubeconfig else (os.environ.get("KUBECONFIG") or "").split(os.pathsep)
    paths = [p for p in paths if p] or [str(Path.home() / ".kube" / "config")]
    for path in paths:
        try:
            config = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError, UnicodeDecodeError):
            continue
        if not isinstance(config, dict):
            continue
        wanted = context or config.get("current-context") or ""
        for entry in config.get("contexts") or []:
            if isinstance(entry, dict) and entry.get("name") == wanted:
                return str((entry.get("context") or {}).get("namespace") or "default")
    return "default"


# ---------------------------------------------------------------------------------------------- the controller

_SERVICE_HINT = (
    ".\nPlease, use the flag --controller-name and --controller-namespace to set up the name and "
    "namespace of the sealed secrets controller"
)

# client-go's words for an error answer that is not a Status (apimachinery's NewGenericServerResponse)
_GO_GENERIC = {
    400: "the server rejected our request for an unknown reason",
    401: "the server has asked for the client to provide credentials",
    404: "the server could not find the requested resource",
    405: "the server does not allow this method on the requested resource",
    409: "the server reported a conflict",
    415: "the server has rejected the content type",
    422: "the server rejected our request due to an error in our request",
    429: "the server has received too many requests and has asked us to try again later",
    503: "the server is currently unable to handle the request",
    504: "the server was unable to return a response in the time allotted, but may still be processing the request",
}


def go_error_text(exc: SecretsyncError, method: str = "", target: str = "") -> str:
    """What kubeseal prints for a client-go error: a Status's message, else client-go's generic text."""
    from secretsync.kube.errors import KubeAPIError

    if not isinstance(exc, KubeAPIError) or not exc.status:
        return exc.message
    if exc.reason:  # the answer was a Status (from the API server)
        return exc.api_message
    status, server_message = exc.status, exc.api_message or ""
    if status == 403:
        text = server_message
    elif status in _GO_GENERIC:
        text = _GO_GENERIC[status]
    elif status >= 500:
        text = f"an error on the server ({json.dumps(server_message)}) has prevented the request from succeeding"
    else:
        text = f"the server responded with the status code {status} but did not return more information"
    return f"{text} ({method.lower()} services {target})" if target else text


class Controller:
    """The sealed-secrets controller behind its Service, reached through the API server's service proxy."""

    def __init__(self, kubeconfig: str, context: str, namespace: str, name: str) -> None:
        self._kubeconfig, self._context = kubeconfig or None, context or None
        self.namespace, self.name = namespace, name
        self._client = None
        self._port: str | None = None

    def _proxy(self, method: str, path: str, body: dict | None = None, accept: str | None = None) -> bytes:
        from secretsync.kube.client import KubeClient
        from secretsync.kube.errors import KubeConfigError, KubeError

        try:
            if self._client is None:
                # the path explicitly: the library reads $KUBECONFIG only once, when first imported
                self._client = KubeClient.from_kubeconfig(
                    self._kubeconfig or os.environ.get("KUBECONFIG") or None, self._context
                )
            if self._port is None:
                service = self._client.get("v1", "Service", self.name, self.namespace)
                ports = (service.get("spec") or {}).get("ports") or [{}]
                self._port = str(ports[0].get("name") or "")
        except KubeConfigError as exc:
            raise SecretsyncError(
                exc.message,
                hint="pass --cert FILE|URL (or SEALED_SECRETS_CERT) or --key-dir DIR, "
                "or a kubeconfig (--kubeconfig, --context) to reach the controller",
            ) from None
        except KubeError as exc:
            raise SecretsyncError(f"cannot get sealed secret service: {go_error_text(exc)}{_SERVICE_HINT}") from None
        return self._client.service_proxy(
            method, self.namespace, self.name, path, port=self._port, body=body, accept=accept
        )

    @property
    def target(self) -> str:
        return f"http:{self.name}:{self._port or ''}"

    def certificate(self) -> bytes:
        """GET /v1/cert.pem, as kubeseal (``Accept: application/x-pem-file, */*``)."""
        from secretsync.kube.errors import KubeError

        try:
            return self._proxy("GET", "/v1/cert.pem", accept="application/x-pem-file, */*")
        except KubeError as exc:
            raise SecretsyncError(f"cannot fetch certificate: {go_error_text(exc, 'GET', self.target)}") from None

    def verify(self, obj: dict) -> bool:
        """POST /v1/verify: True when the controller can decrypt it (200), False on 409."""
        from secretsync.kube.errors import KubeError

        try:
            self._proxy("POST", "/v1/verify", body=obj)
        except KubeError as exc:
            if getattr(exc, "status", 0) == 409:
                return False
            raise SecretsyncError(f"cannot validate sealed secret: {go_error_text(exc, 'POST', self.target)}") from None
        return True

    def rotate(self, obj: dict) -> dict:
        """POST /v1/rotate: the SealedSecret re-sealed with the newest key, as kubeseal prints it."""
        from secretsync.kube.errors import KubeError

        try:
            body = self._proxy("POST", "/v1/rotate", body=obj)
        except KubeError as exc:
            if getattr(exc, "status", 0) == 409:
                raise SecretsyncError("unable to rotate secret") from None
            raise SecretsyncError(f"cannot re-encrypt secret: {go_error_text(exc, 'POST', self.target)}") from None
        try:
            resealed = json.loads(body)
        except ValueError:
            resealed = None
        if not isinstance(resealed, dict):
            raise SecretsyncError("cannot re-encrypt secret: the controller's answer is not a JSON object")
        return _as_re_encrypted(resealed)


def _as_re_encrypted(obj: dict) -> dict:
    """kubeseal's ``--re-encrypt`` output: kind/apiVersion set; creationTimestamp, deletionTimestamp and
    generation cleared."""
    obj = dict(obj, apiVersion=sealedsecret.API_VERSION, kind=sealedsecret.KIND)
    if isinstance(obj.get("metadata"), dict):
        obj["metadata"] = {
            k: v
            for k, v in obj["metadata"].items()
            if k not in ("creationTimestamp", "deletionTimestamp", "generation")
        }
    return obj


def _controller(args: argparse.Namespace) -> Controller:
    return Controller(args.kubeconfig, args.context, args.controller_namespace, args.controller_name)


# ---------------------------------------------------------------------------------------------- commands


def fetch_certificate(cert: str, key_dir: str = "", controller: Controller | None = None) -> bytes:
    """The certificate PEM bytes from a file, a URL, the newest key of a key dir, or the controller."""
    if cert:
        if re.match(r"^https?://", cert, re.I):
            import urllib.error  # lazily: only URL certificates pay for the HTTP stack
            import urllib.request

            request = urllib.request.Request(cert, headers={"Accept": "application/x-pem-file, */*"})
            try:
                with urllib.request.urlopen(request, timeout=_CERT_TIMEOUT) as response:  # noqa: S310 - http(s) only
                    return response.read()
            except urllib.error.HTTPError as exc:
                raise SecretsyncError(f"cannot fetch certificate: {cert}: HTTP {exc.code}") from None
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise SecretsyncError(f"cannot fetch certificate: {cert}: {reason}") from None
        path = cert[len("file://") :] if cert.lower().startswith("file://") else cert
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise SecretsyncError(f"cannot fetch certificate: {path}: {exc.strerror}") from None
    if key_dir:
        return Keyring.from_dir(key_dir).certificate_pem()
    if controller is None:
        raise SecretsyncError(
            "cannot fetch certificate: no --cert, --key-dir or controller given",
            hint="pass --cert FILE|URL (or SEALED_SECRETS_CERT), or --key-dir DIR",
        )
    return controller.certificate()


def _raw(args: argparse.Namespace, cert) -> str:
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
        value, _ = unseal_cli.read_input("")
    return sealedsecret.seal_value(cert, value, scope, namespace, args.name)


def _seal_all(args: argparse.Namespace, cert, data: bytes, source: str) -> list[dict]:
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


def _merge_into(args: argparse.Namespace, cert, data: bytes, source: str, fmt: str) -> None:
    target = args.merge_into
    existing_docs = sealedsecret.load_documents(Path(target).read_bytes() if Path(target).is_file() else b"", target)
    if len(existing_docs) != 1 or existing_docs[0].get("kind") != sealedsecret.KIND:
        raise SecretsyncError(f"{target}: --merge-into needs a file holding exactly one SealedSecret")
    existing = existing_docs[0]
    meta = existing.get("metadata") or {}
    secrets = sealedsecret.load_documents(data, source)
    if not secrets:
        raise SecretsyncError("no secrets found. Ensure the input is valid and UTF-8 encoded")
    merged = existing
    for secret in secrets:
        secret = dict(secret)
        secret["metadata"] = dict(secret.get("metadata") or {}, name=meta.get("name"), namespace=meta.get("namespace"))
        sealed = sealedsecret.seal_secret(
            secret,
            cert,
            sealing.parse_scope(args.scope),
            default_namespace=meta.get("namespace") or "",
            allow_empty_data=args.allow_empty_data,
        )
        merged = sealedsecret.merge_into(merged, sealed)
    unseal_cli.write_output(sealedsecret.dump([merged], fmt), target)


def _offline(args: argparse.Namespace) -> bool:
    """``--validate``/``--re-encrypt`` with local keys instead of asking the controller."""
    return bool(args.key_dir or args.recovery_private_key)


def _validate(args: argparse.Namespace, data: bytes, source: str) -> int:
    objects = sealedsecret.load_documents(data, source)
    if _offline(args):
        keyring = unseal_cli.load_keyring(args.recovery_private_key, args.key_dir)

        def decrypts(obj: dict) -> bool:
            try:
                sealedsecret.unseal_sealed_secret(obj, keyring)
            except sealedsecret.UnsealError:
                return False
            return True
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
        keyring = unseal_cli.load_keyring(args.recovery_private_key, args.key_dir)
        for obj in sealedsecret.load_documents(data, source):
            new_items = sealedsecret.reseal_items(obj, keyring)
            obj = dict(obj, spec=dict(obj.get("spec") or {}))
            obj["spec"]["encryptedData"] = dict(obj["spec"].get("encryptedData") or {}, **new_items)
            out.append(_as_re_encrypted(obj))
    else:
        controller = _controller(args)
        out = [controller.rotate(obj) for obj in sealedsecret.load_documents(data, source)]
    target = args.sealed_secret_file or (args.secret_file if args.secret_file not in ("", "-") else "")
    unseal_cli.write_output(sealedsecret.dump(out, fmt), target)


def run(args: argparse.Namespace) -> int:
    if args.from_file and not args.raw:
        raise SecretsyncError("--from-file requires --raw")
    fmt = unseal_cli.output_format(args.format, args.sealed_secret_file)
    try:
        sealing.parse_scope(args.scope)
    except ValueError as exc:
        raise SecretsyncError(str(exc)) from None
    if args.recovery_unseal:
        keyring = unseal_cli.load_keyring(args.recovery_private_key, args.key_dir or None)
        data, source = unseal_cli.read_input(args.secret_file)
        unseal_cli.write_output(unseal_cli.recover(data, source, keyring, fmt), args.sealed_secret_file, private=True)
        return 0
    if args.validate:
        data, source = unseal_cli.read_input(args.secret_file)
        return _validate(args, data, source)
    if args.re_encrypt:
        data, source = unseal_cli.read_input(args.secret_file)
        _re_encrypt(args, data, source, fmt)
        return 0
    pem = fetch_certificate(args.cert, args.key_dir, _controller(args))
    if args.fetch_cert:
        unseal_cli.write_output(pem, args.sealed_secret_file)
        return 0
    where = args.cert or (
        f"newest key of {args.key_dir}"
        if args.key_dir
        else f"controller {args.controller_namespace}/{args.controller_name}"
    )
    cert = load_certificate(pem, where)
    if args.merge_into:
        data, source = unseal_cli.read_input(args.secret_file)
        _merge_into(args, cert, data, source, unseal_cli.output_format(args.format))
        return 0
    if args.raw:
        unseal_cli.write_output(_raw(args, cert), args.sealed_secret_file)
        return 0
    data, source = unseal_cli.read_input(args.secret_file)
    unseal_cli.write_output(sealedsecret.dump(_seal_all(args, cert, data, source), fmt), args.sealed_secret_file)
    return 0
