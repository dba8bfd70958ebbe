"""argocd-vault-plugin's configuration, read as AVP reads it: the environment, ``-c`` and ``-s``.

``VaultConfig.from_env`` reads the variables AVP reads (``VAULT_*``, ``AVP_*``, the
``ARGOCD_ENV_`` prefix), a ``-c`` config file (``load_config_file``) and a ``-s`` Secret's
values (``secret_reference``, ``secret_config``), with AVP's lookup order and error wording.
No I/O beyond reading the ``-c`` file; credentials are left out of every repr and message.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from secretsync.gocompat import goduration
from secretsync.secretvalue import SecretBytes
from secretsync.vault.errors import VaultConfigError

__all__ = [
    "VaultConfig",
    "load_config_file",
    "secret_config",
    "secret_reference",
    "ENV_PREFIX",
    "AUTH_TYPES",
    "DEFAULT_MOUNTS",
    "DEFAULT_K8S_TOKEN_PATH",
]

ENV_PREFIX = "ARGOCD_ENV_"
# Keys of the -c file (or -s Secret) with these prefixes are exported as SDK variables (AVP §9).
_EXPORTED_PREFIXES = ("VAULT", "AWS", "AZURE", "GOOGLE", "SOPS", "OP_CONNECT", "K8S_SECRET")
AUTH_TYPES = ("token", "approle", "k8s", "userpass", "github")
DEFAULT_MOUNTS = {
    "approle": "auth/approle",
    "k8s": "auth/kubernetes",
    "userpass": "auth/userpass",
    "github": "auth/github",
}
DEFAULT_K8S_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"
ARGOCD_NAMESPACE = "argocd"

Settings = Callable[[str], "str | None"]
"""AVP's lookup of one variable by name (``_settings`` builds it)."""


def _parse_env_file(text: str, p: Path) -> dict[str, Any]:
    """``KEY=VALUE`` lines (``export`` and surrounding quotes allowed, ``#`` comments)."""
    values: dict[str, Any] = {}
    for number, raw_line in enumerate(text.splitlines(), 1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise VaultConfigError(f"config file {p} line {number}: expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[name.strip()] = value
    return values


def _parse_yaml_file(text: str, p: Path) -> dict[str, Any]:
    """A YAML or JSON mapping of variable names to values."""
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise VaultConfigError(
            f"config file {p} is not valid YAML/JSON{where}",
            hint="the file must be a mapping of variable names to values",
        ) from None
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        raise VaultConfigError(f"config file {p} must hold a mapping of variable names to values")
    return loaded


def load_config_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """An AVP ``-c`` file (YAML, JSON, or ``KEY=VALUE`` env file) as upper-cased keys → strings."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise VaultConfigError(
            f"cannot read config file {p}: {exc.strerror}", hint="check the path given with -c"
        ) from None
    if p.suffix.lower() in (".yaml", ".yml", ".json"):
        values = _parse_yaml_file(text, p)
    else:
        values = _parse_env_file(text, p)
    out = {}
    for key, value in values.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        out[str(key).upper()] = "" if value is None else str(value)
    return out


def secret_reference(spec: str) -> tuple[str, str]:
    """AVP's ``-s`` value as (namespace, name): ``namespace:name``, else ``name`` in ``argocd``.

    As AVP splits on ``:``: anything but exactly two fields means the first field in ``argocd``.
    """
    fields = spec.split(":")
    if len(fields) == 2:
        return fields[0], fields[1]
    return ARGOCD_NAMESPACE, fields[0]


def secret_config(secret: Mapping[str, Any]) -> dict[str, str]:
    """The configuration in a Kubernetes Secret (``-s``): its ``data`` keys, upper-cased, to text.

    ``data`` values are ``SecretBytes`` (the Kubernetes client's convention) or base64 text.
    """
    meta = secret.get("metadata") or {}
    where = f"Secret {meta.get('namespace', '')}/{meta.get('name', '')}"
    out: dict[str, str] = {}
    for key, value in (secret.get("data") or {}).items():
        try:
            raw = value.reveal() if isinstance(value, SecretBytes) else base64.b64decode(str(value), validate=True)
            out[str(key).upper()] = raw.decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise VaultConfigError(
                f"{where}: data key {key} is not UTF-8 text",
                hint="configuration values must be text (VAULT_ADDR, AVP_TYPE, ...)",
            ) from None
    return out


def _settings(env: Mapping[str, str], file_values: Mapping[str, str]) -> Settings:
    """AVP's lookup order: ARGOCD_ENV_ > (file for exported SDK names) > environment > file."""
    prefixed = {k[len(ENV_PREFIX) :].upper(): v for k, v in env.items() if k.startswith(ENV_PREFIX)}

    def get(name: str) -> str | None:
        if name in prefixed:
            return prefixed[name]
        if name.startswith(_EXPORTED_PREFIXES) and name in file_values:
            return file_values[name]
        if name in env:
            return env[name]
        return file_values.get(name)

    return get


def _duration_seconds(text: str, name: str) -> float:
    """AVP's timeouts: a number of seconds, or a Go duration (Vault's ``ParseDurationSecond``)."""
    try:
        return goduration.seconds(goduration.parse_duration_second(text.strip()))
    except ValueError:
        raise VaultConfigError(f"{name}={text!r} is not a duration", hint="use seconds, e.g. 30 or 30s") from None


_RE2_UNSUPPORTED = re.compile(r"\(\?[=!]|\(\?<[=!]|\\[1-9]")


def _check_backend_type(get: Settings) -> None:
    """``AVP_TYPE`` must be ``vault`` (the only AVP backend secretsync speaks)."""
    avp_type = (get("AVP_TYPE") or "").strip()
    if avp_type == "vault":
        return
    if not avp_type:
        raise VaultConfigError(
            "Must provide a supported Vault Type, received ",
            hint="set AVP_TYPE=vault (other AVP backends are not supported)",
        )
    raise VaultConfigError(
        f"Must provide a supported Vault Type, received {avp_type}",
        hint="secretsync supports AVP_TYPE=vault only",
    )


def _auth_type(get: Settings) -> str:
    auth_type = (get("AVP_AUTH_TYPE") or "").strip()
    if auth_type not in AUTH_TYPES:
        raise VaultConfigError(
            f"Must provide a supported Authentication Type, received {auth_type}",
            hint="set AVP_AUTH_TYPE to token, approle, k8s, userpass or github",
        )
    return auth_type


# The credential variables each auth method requires, by VaultConfig field.
_CREDENTIALS: dict[str, tuple[tuple[str, str], ...]] = {
    "token": (("token", "VAULT_TOKEN"),),
    "approle": (("role_id", "AVP_ROLE_ID"), ("secret_id", "AVP_SECRET_ID")),
    "userpass": (("username", "AVP_USERNAME"), ("password", "AVP_PASSWORD")),
    "github": (("github_token", "AVP_GITHUB_TOKEN"),),
    "k8s": (("k8s_role", "AVP_K8S_ROLE"),),
}


def _credentials(get: Settings, auth_type: str) -> dict[str, str]:
    """The credential fields of ``auth_type``; an empty required one is AVP's error."""
    out: dict[str, str] = {}
    for field_name, variable in _CREDENTIALS[auth_type]:
        value = get(variable)
        if not value:
            raise VaultConfigError(
                f"{variable} for {auth_type} authentication cannot be empty",
                hint=f"set {variable} (or {ENV_PREFIX}{variable}) or put it in the -c file",
            )
        out[field_name] = value
    if auth_type == "k8s":
        out["k8s_token_path"] = get("AVP_K8S_TOKEN_PATH") or DEFAULT_K8S_TOKEN_PATH
    return out


def _mount_path(get: Settings, auth_type: str) -> str | None:
    mount = get("AVP_K8S_MOUNT_PATH") if auth_type == "k8s" else None
    return mount or get("AVP_MOUNT_PATH") or DEFAULT_MOUNTS.get(auth_type)


def _tls_verify(get: Settings) -> bool | str:
    """``VAULT_CACERT`` / ``VAULT_CAPATH`` (a CA to trust), or ``VAULT_SKIP_VERIFY`` turning checks off."""
    verify: bool | str = get("VAULT_CACERT") or get("VAULT_CAPATH") or True
    skip = (get("VAULT_SKIP_VERIFY") or "").strip()
    if skip:
        if skip.lower() not in ("1", "t", "true", "0", "f", "false"):
            raise VaultConfigError(f"VAULT_SKIP_VERIFY={skip!r} is not a boolean", hint="use true or false")
        if skip.lower() in ("1", "t", "true"):
            verify = False
    return verify


def _client_cert(get: Settings) -> tuple[str, str] | None:
    cert, key = get("VAULT_CLIENT_CERT"), get("VAULT_CLIENT_KEY")
    return (cert, key) if cert and key else None


def _path_validation(get: Settings) -> str | None:
    """``AVP_PATH_VALIDATION``: a regular expression in the RE2 subset (no lookaround, no backreferences)."""
    validation = get("AVP_PATH_VALIDATION") or None
    if validation is None:
        return None
    if _RE2_UNSUPPORTED.search(validation):
        raise VaultConfigError(
            "AVP_PATH_VALIDATION is not a valid RE2 regular expression "
            "(lookaround and backreferences are not supported)"
        )
    try:
        re.compile(validation)
    except re.error as exc:
        raise VaultConfigError(f"AVP_PATH_VALIDATION is not a valid regular expression: {exc.msg}") from None
    return validation


def _max_retries(get: Settings) -> int:
    retries_text = get("VAULT_MAX_RETRIES")
    try:
        max_retries = int(retries_text) if retries_text else 2
    except ValueError:
        raise VaultConfigError(f"VAULT_MAX_RETRIES={retries_text!r} is not an integer") from None
    return max(0, max_retries)


@dataclass(frozen=True)
class VaultConfig:
    """Everything needed to talk to Vault, as AVP reads it. Credentials are left out of repr."""

    addr: str
    auth_type: str = "token"
    token: str | None = field(default=None, repr=False)
    namespace: str | None = None
    verify: bool | str = True
    client_cert: tuple[str, str] | None = None
    role_id: str | None = None
    secret_id: str | None = field(default=None, repr=False)
    k8s_role: str | None = None
    k8s_token_path: str = DEFAULT_K8S_TOKEN_PATH
    mount_path: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    github_token: str | None = field(default=None, repr=False)
    kv_version: str = "2"
    path_validation: str | None = None
    timeout: float = 60.0
    max_retries: int = 2
    retry_wait: float = 0.5

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        config_file: str | os.PathLike[str] | None = None,
        secret_values: Mapping[str, str] | None = None,
    ) -> VaultConfig:
        """Build from the environment, an optional ``-c`` file and an optional ``-s`` Secret's values
        (``secret_config``) exactly as AVP names things; the file overrides the Secret."""
        env = os.environ if env is None else env
        file_values = {str(k).upper(): str(v) for k, v in (secret_values or {}).items()}
        file_values.update(load_config_file(config_file) if config_file else {})
        get = _settings(env, file_values)

        _check_backend_type(get)
        auth_type = _auth_type(get)
        credentials = _credentials(get, auth_type)
        timeout_text = get("VAULT_CLIENT_TIMEOUT")
        return cls(
            addr=(get("VAULT_ADDR") or "https://127.0.0.1:8200").rstrip("/"),
            auth_type=auth_type,
            namespace=get("VAULT_NAMESPACE") or None,
            verify=_tls_verify(get),
            client_cert=_client_cert(get),
            mount_path=_mount_path(get, auth_type),
            kv_version=(get("AVP_KV_VERSION") or "2").strip(),
            path_validation=_path_validation(get),
            max_retries=_max_retries(get),
            timeout=_duration_seconds(timeout_text, "VAULT_CLIENT_TIMEOUT") if timeout_text else 60.0,
            retry_wait=_duration_seconds(get("VAULT_RETRY_WAIT") or "0.5", "VAULT_RETRY_WAIT"),
            **credentials,
        )
