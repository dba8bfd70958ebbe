"""The Vault client edge: argocd-vault-plugin's configuration, login, and safe reads (the only hvac import).

``VaultConfig`` reads the variables AVP reads (``VAULT_*``, ``AVP_*``, the ``ARGOCD_ENV_``
prefix, a ``-c`` config file, a ``-s`` Secret's values via ``secret_config``).
``VaultBackend`` logs in (token, approle, k8s, userpass, github), renews its token, logs
in again once when Vault answers 403 on an expired token, applies a timeout to every
request and retries 5xx/sealed/connection failures a bounded number of times with
backoff. ``VaultBackend.reader()`` gives a per-render ``CachedReader`` so each (path,
version, kv-version) is read at most once. KV reads follow AVP's rules and error wording (§8 of the spec); ``fingerprint`` gives a cheap
change signal per path. ``TransitClient`` is Vault's transit engine for sops's
``hc_vault`` keys: address and token are given explicitly (sops takes the address from
each file's metadata), with the same timeout, retries and error naming.

hvac provides the HTTP adapter (session, token and namespace headers, TLS); the
requests themselves are plain API calls so that one retry layer covers all of them
and response bodies can be parsed keeping JSON number text (``JSONNumber``).

Errors name the Vault address, path, auth method and HTTP status; never a token or
a value. Values leave this module inside ``SecretData``, whose repr is redacted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hvac
import hvac.adapters
import requests
import yaml

from secretsync.errors import SecretsyncError
from secretsync.retry import RetriesExhausted, RetryPolicy
from secretsync.secretvalue import REDACTED, SecretBytes
from secretsync.vault.jsonpath import JSONNumber, go_json

__all__ = [
    "VaultConfig",
    "VaultBackend",
    "CachedReader",
    "SecretData",
    "VaultError",
    "VaultConfigError",
    "VaultAuthError",
    "VaultUnavailable",
    "VaultReadError",
    "VaultTransitError",
    "TransitClient",
    "load_config_file",
    "secret_config",
    "secret_reference",
]

log = logging.getLogger(__name__)

ENV_PREFIX = "ARGOCD_ENV_"
# Keys of the -c file (or -s Secret) with these prefixes are exported as SDK variables (AVP §9).
_EXPORTED_PREFIXES = ("VAULT", "AWS", "AZURE", "GOOGLE", "SOPS", "OP_CONNECT", "K8S_SECRET")
_AUTH_TYPES = ("token", "approle", "k8s", "userpass", "github")
_DEFAULT_MOUNTS = {
    "approle": "auth/approle",
    "k8s": "auth/kubernetes",
    "userpass": "auth/userpass",
    "github": "auth/github",
}
DEFAULT_K8S_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"
_RETRY_STATUSES = (500, 502, 503, 504)


# ---------------------------------------------------------------------------------------------- errors


class VaultError(SecretsyncError):
    """A Vault failure; the message names address, path, auth method and status, never a value."""

    reference = "vault-error"


class VaultConfigError(VaultError):
    """The AVP-style configuration is incomplete or invalid (AVP's own wording)."""

    reference = "vault-config"


class VaultAuthError(VaultError):
    """Login failed, or Vault refused the token (403)."""

    reference = "vault-auth-failed"


class VaultUnavailable(VaultError):
    """Vault could not be reached, timed out, or stayed sealed/5xx after bounded retries."""

    reference = "vault-unavailable"


class VaultReadError(VaultError):
    """A read found nothing usable (AVP's messages for missing paths, versions, /data/, engine)."""

    reference = "vault-secret-not-found"


class VaultTransitError(VaultError):
    """A transit encrypt/decrypt was refused or answered without the expected field."""

    reference = "vault-transit"


# ---------------------------------------------------------------------------------------------- config


def load_config_file(path: str | os.PathLike) -> dict[str, str]:
    """An AVP ``-c`` file (YAML, JSON, or ``KEY=VALUE`` env file) as upper-cased keys → strings."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise VaultConfigError(
            f"cannot read config file {p}: {exc.strerror}", hint="check the path given with -c"
        ) from None
    values: dict[str, Any]
    if p.suffix.lower() in (".yaml", ".yml", ".json"):
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
        values = loaded
    else:
        values = {}
        for number, line in enumerate(text.splitlines(), 1):
            line = line.strip()
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
    out = {}
    for key, value in values.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        out[str(key).upper()] = "" if value is None else str(value)
    return out


ARGOCD_NAMESPACE = "argocd"


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


def _settings(env: Mapping[str, str], file_values: Mapping[str, str]) -> Callable[[str], str | None]:
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
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", text)
    if not m:
        raise VaultConfigError(f"{name}={text!r} is not a duration", hint="use seconds, e.g. 30 or 30s")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


_RE2_UNSUPPORTED = re.compile(r"\(\?[=!]|\(\?<[=!]|\\[1-9]")


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
        config_file: str | os.PathLike | None = None,
        secret_values: Mapping[str, str] | None = None,
    ) -> VaultConfig:
        """Build from the environment, an optional ``-c`` file and an optional ``-s`` Secret's values
        (``secret_config``) exactly as AVP names things; the file overrides the Secret."""
        env = os.environ if env is None else env
        file_values = {str(k).upper(): str(v) for k, v in (secret_values or {}).items()}
        file_values.update(load_config_file(config_file) if config_file else {})
        get = _settings(env, file_values)

        avp_type = (get("AVP_TYPE") or "").strip()
        if avp_type != "vault":
            if not avp_type:
                raise VaultConfigError(
                    "Must provide a supported Vault Type, received ",
                    hint="set AVP_TYPE=vault (other AVP backends are not supported)",
                )
            raise VaultConfigError(
                f"Must provide a supported Vault Type, received {avp_type}",
                hint="secretsync supports AVP_TYPE=vault only",
            )
        auth_type = (get("AVP_AUTH_TYPE") or "").strip()
        if auth_type not in _AUTH_TYPES:
            raise VaultConfigError(
                f"Must provide a supported Authentication Type, received {auth_type}",
                hint="set AVP_AUTH_TYPE to token, approle, k8s, userpass or github",
            )
        addr = get("VAULT_ADDR") or "https://127.0.0.1:8200"

        def required(name: str) -> str:
            value = get(name)
            if not value:
                raise VaultConfigError(
                    f"{name} for {auth_type} authentication cannot be empty",
                    hint=f"set {name} (or {ENV_PREFIX}{name}) or put it in the -c file",
                )
            return value

        kwargs: dict[str, Any] = {}
        if auth_type == "token":
            kwargs["token"] = required("VAULT_TOKEN")
        elif auth_type == "approle":
            kwargs["role_id"], kwargs["secret_id"] = required("AVP_ROLE_ID"), required("AVP_SECRET_ID")
        elif auth_type == "userpass":
            kwargs["username"], kwargs["password"] = required("AVP_USERNAME"), required("AVP_PASSWORD")
        elif auth_type == "github":
            kwargs["github_token"] = required("AVP_GITHUB_TOKEN")
        elif auth_type == "k8s":
            kwargs["k8s_role"] = required("AVP_K8S_ROLE")
            kwargs["k8s_token_path"] = get("AVP_K8S_TOKEN_PATH") or DEFAULT_K8S_TOKEN_PATH
        mount = get("AVP_K8S_MOUNT_PATH") if auth_type == "k8s" else None
        mount = mount or get("AVP_MOUNT_PATH") or _DEFAULT_MOUNTS.get(auth_type)

        verify: bool | str = True
        if get("VAULT_CACERT"):
            verify = get("VAULT_CACERT")
        elif get("VAULT_CAPATH"):
            verify = get("VAULT_CAPATH")
        skip = (get("VAULT_SKIP_VERIFY") or "").strip()
        if skip:
            if skip.lower() not in ("1", "t", "true", "0", "f", "false"):
                raise VaultConfigError(f"VAULT_SKIP_VERIFY={skip!r} is not a boolean", hint="use true or false")
            if skip.lower() in ("1", "t", "true"):
                verify = False
        client_cert = None
        if get("VAULT_CLIENT_CERT") and get("VAULT_CLIENT_KEY"):
            client_cert = (get("VAULT_CLIENT_CERT"), get("VAULT_CLIENT_KEY"))

        validation = get("AVP_PATH_VALIDATION") or None
        if validation is not None:
            if _RE2_UNSUPPORTED.search(validation):
                raise VaultConfigError(
                    "AVP_PATH_VALIDATION is not a valid RE2 regular expression "
                    "(lookaround and backreferences are not supported)"
                )
            try:
                re.compile(validation)
            except re.error as exc:
                raise VaultConfigError(f"AVP_PATH_VALIDATION is not a valid regular expression: {exc.msg}") from None

        retries_text = get("VAULT_MAX_RETRIES")
        try:
            max_retries = int(retries_text) if retries_text else 2
        except ValueError:
            raise VaultConfigError(f"VAULT_MAX_RETRIES={retries_text!r} is not an integer") from None
        timeout_text = get("VAULT_CLIENT_TIMEOUT")
        return cls(
            addr=addr.rstrip("/"),
            auth_type=auth_type,
            namespace=get("VAULT_NAMESPACE") or None,
            verify=verify,
            client_cert=client_cert,
            mount_path=mount,
            kv_version=(get("AVP_KV_VERSION") or "2").strip(),
            path_validation=validation,
            max_retries=max(0, max_retries),
            timeout=_duration_seconds(timeout_text, "VAULT_CLIENT_TIMEOUT") if timeout_text else 60.0,
            retry_wait=_duration_seconds(get("VAULT_RETRY_WAIT") or "0.5", "VAULT_RETRY_WAIT"),
            **kwargs,
        )


# ---------------------------------------------------------------------------------------------- values


class SecretData(Mapping):
    """The key/value map of one Vault secret; its repr and str never show values."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any] | None) -> None:
        self._data = dict(data or {})

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"SecretData({REDACTED}, keys={sorted(self._data)})"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("SecretData cannot be pickled")


# ---------------------------------------------------------------------------------------------- backend


class _Transient(Exception):
    """A failure worth another try (5xx, sealed, connection refused); ``RetryPolicy`` retries it."""

    transient = True


def _parse_body(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return json.loads(response.content, parse_float=JSONNumber)
    except ValueError:
        return None


def _describe(addr: str, path: str | None, status: int | None, auth: str | None = None) -> str:
    """The ``(Vault ADDR, path P, auth A, HTTP S)`` suffix of every message (never a token or value)."""
    parts = [f"Vault {addr}"]
    if path is not None:
        parts.append(f"path {path}")
    if auth is not None:
        parts.append(f"auth {auth}")
    if status is not None:
        parts.append(f"HTTP {status}")
    return "(" + ", ".join(parts) + ")"


class _Channel:
    """One Vault address through hvac's HTTP adapter, with this module's timeout, bounded retries
    (5xx, sealed, refused connections; timeouts too when ``retry_timeouts``) and error naming.

    ``describe(path, status)`` gives the ``(Vault …, path …)`` suffix of every message.
    """

    def __init__(
        self,
        addr: str,
        *,
        describe: Callable[[str | None, int | None], str],
        namespace: str | None = None,
        verify: bool | str = True,
        cert: tuple[str, str] | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        retry_wait: float = 0.5,
        retry_timeouts: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.addr = addr
        self.client = hvac.Client(
            url=addr, namespace=namespace, verify=verify, cert=cert, timeout=timeout, adapter=hvac.adapters.RawAdapter
        )
        self._describe = describe
        self._timeout, self._max_retries, self._retry_wait = timeout, max_retries, retry_wait
        self._retry_timeouts = retry_timeouts
        self._sleep, self._clock = sleep, clock
        self.requests_sent = 0  # every HTTP request (tests and bench count them)

    def send(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: dict | None = None,
        body: dict | None = None,
        token: bool = True,
    ) -> tuple[int, Any]:
        """One API call with the timeout and bounded retries; returns (status, parsed JSON body or None)."""

        def attempt() -> tuple[int, Any]:
            self.requests_sent += 1
            saved = self.client.adapter.token
            try:
                if not token:
                    self.client.adapter.token = None
                response = self.client.adapter.request(
                    method, f"/v1/{path}", raise_exception=False, params=params, json=body
                )
            except requests.Timeout:
                if self._retry_timeouts:
                    raise _Transient(f"no answer within {self._timeout:g} s") from None
                raise VaultUnavailable(
                    f"Vault did not answer within {self._timeout:g} s while {what} {self._describe(path, None)}",
                    hint="check that Vault is healthy, or raise VAULT_CLIENT_TIMEOUT",
                ) from None
            except requests.ConnectionError:
                raise _Transient("connection failed") from None
            except requests.RequestException as exc:
                raise VaultUnavailable(
                    f"request to Vault failed ({type(exc).__name__}) while {what} {self._describe(path, None)}",
                    hint="check VAULT_ADDR and the TLS settings",
                ) from None
            finally:
                self.client.adapter.token = saved
            if response.status_code in _RETRY_STATUSES:
                raise _Transient(f"HTTP {response.status_code}" + (" (sealed?)" if response.status_code == 503 else ""))
            return response.status_code, _parse_body(response)

        policy = RetryPolicy(
            attempts=1 + self._max_retries,
            deadline=None,
            base=self._retry_wait,
            cap=10.0,
            sleep=self._sleep,
            clock=self._clock,
        )
        try:
            return policy.call(attempt, peer=f"Vault {self.addr}", operation=what)
        except RetriesExhausted as exc:
            raise VaultUnavailable(
                f"Vault unavailable while {what}: {exc.last} after {exc.attempts} attempt(s) "
                f"{self._describe(path, None)}",
                hint="check that Vault is running and unsealed; VAULT_MAX_RETRIES sets the number of retries",
            ) from None


class VaultBackend:
    """One Vault server and one identity: login, renewal, bounded retries, AVP-compatible KV reads."""

    def __init__(
        self,
        config: VaultConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._clock = clock
        self._channel = _Channel(
            config.addr,
            describe=self._where,
            namespace=config.namespace,
            verify=config.verify,
            cert=config.client_cert,
            timeout=config.timeout,
            max_retries=config.max_retries,
            retry_wait=config.retry_wait,
            sleep=sleep,
            clock=clock,
        )
        self._client = self._channel.client
        self._lock = threading.RLock()
        self._logged_in = False
        self._lease_start = 0.0
        self._lease_duration = 0
        self._renewable = False
        self._fingerprint_key = os.urandom(32)
        if config.auth_type == "token":
            self._client.token = config.token

    @property
    def requests_sent(self) -> int:
        """Every HTTP request sent so far (tests and bench count them)."""
        return self._channel.requests_sent

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        config_file: str | os.PathLike | None = None,
        secret_values: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> VaultBackend:
        return cls(VaultConfig.from_env(env, config_file, secret_values), **kwargs)

    @property
    def addr(self) -> str:
        return self.config.addr

    def _where(self, path: str | None = None, status: int | None = None) -> str:
        return _describe(self.config.addr, path, status, self.config.auth_type)

    # -- transport -------------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: dict | None = None,
        body: dict | None = None,
        token: bool = True,
    ) -> tuple[int, Any]:
        return self._channel.send(method, path, what=what, params=params, body=body, token=token)

    # -- authentication --------------------------------------------------------------------------

    def login(self) -> None:
        """Authenticate now with the configured method (token auth only checks nothing, as AVP)."""
        with self._lock:
            self._login()

    def _login(self) -> None:
        cfg = self.config
        if cfg.auth_type == "token":
            self._client.token = cfg.token
            self._logged_in = True
            return
        mount = (cfg.mount_path or _DEFAULT_MOUNTS[cfg.auth_type]).strip("/")
        if cfg.auth_type == "approle":
            path, body = f"{mount}/login", {"role_id": cfg.role_id, "secret_id": cfg.secret_id}
        elif cfg.auth_type == "userpass":
            path, body = f"{mount}/login/{cfg.username}", {"password": cfg.password}
        elif cfg.auth_type == "github":
            path, body = f"{mount}/login", {"token": cfg.github_token}
        else:  # k8s
            try:
                jwt = Path(cfg.k8s_token_path).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise VaultAuthError(
                    f"cannot read the service account token {cfg.k8s_token_path}: {exc.strerror}",
                    hint="set AVP_K8S_TOKEN_PATH to the projected token file",
                ) from None
            path, body = f"{mount}/login", {"role": cfg.k8s_role, "jwt": jwt}
        status, response = self._send("POST", path, what="logging in", body=body, token=False)
        auth = (response or {}).get("auth") if isinstance(response, dict) else None
        if status != 200 or not auth or not auth.get("client_token"):
            errors = response.get("errors") if isinstance(response, dict) else None
            detail = f": {'; '.join(map(str, errors))}" if errors else ""
            raise VaultAuthError(
                f"Vault login failed{detail} {self._where(path, status)}",
                hint="check the role/credentials and the auth mount (AVP_MOUNT_PATH includes the auth/ prefix)",
            )
        self._client.token = auth["client_token"]
        self._lease_duration = int(auth.get("lease_duration") or 0)
        self._renewable = bool(auth.get("renewable"))
        self._lease_start = self._clock()
        self._logged_in = True
        log.debug("vault login ok (auth %s, ttl %ss)", cfg.auth_type, self._lease_duration)

    def _ensure_token(self) -> None:
        """Log in if never done; renew (or log in again) once two thirds of the lease are gone."""
        if not self._logged_in:
            self._login()
            return
        if self._lease_duration <= 0:
            return
        if self._clock() - self._lease_start < self._lease_duration * 2 / 3:
            return
        if self._renewable:
            status, response = self._send("POST", "auth/token/renew-self", what="renewing the token", body={})
            auth = response.get("auth") if isinstance(response, dict) else None
            if status == 200 and auth:
                self._lease_duration = int(auth.get("lease_duration") or 0)
                self._lease_start = self._clock()
                log.debug("vault token renewed (ttl %ss)", self._lease_duration)
                if self._lease_duration > 0:
                    return
        if self.config.auth_type != "token":
            self._login()

    def _token_valid(self) -> bool:
        status, _ = self._send("GET", "auth/token/lookup-self", what="checking the token")
        return status == 200

    def _authed(
        self, method: str, path: str, *, what: str, params: dict | None = None, body: dict | None = None
    ) -> tuple[int, Any]:
        """An API call as the logged-in identity; on 403 with a dead token, one re-login and retry."""
        with self._lock:
            self._ensure_token()
            status, response = self._send(method, path, what=what, params=params, body=body)
            if status == 403 and self.config.auth_type != "token" and not self._token_valid():
                log.info("vault token rejected (expired or revoked); logging in again")
                self._login()
                status, response = self._send(method, path, what=what, params=params, body=body)
            if status == 403:
                raise VaultAuthError(
                    f"permission denied {self._where(path, status)}",
                    hint="the Vault policy of this identity must allow read on the path; "
                    "a token that expired must be replaced",
                )
            return status, response

    # -- reads -----------------------------------------------------------------------------------

    def check_path(self, path: str) -> None:
        """AVP_PATH_VALIDATION: an unanchored regex every path must match."""
        pattern = self.config.path_validation
        if pattern and not re.search(pattern, path):
            raise VaultConfigError(
                f"the path {path} is disallowed by AVP_PATH_VALIDATION restriction",
                reference="vault-path-disallowed",
                hint="fix the path or the AVP_PATH_VALIDATION pattern",
            )

    def read(self, path: str, version: str | None = None, kv_version: str | None = None) -> SecretData:
        """Read one secret as AVP does: ``GET /v1/<path>[?version=N]``; KV v2 gives ``data.data``."""
        kv = (kv_version if kv_version is not None else self.config.kv_version).strip()
        if kv not in ("1", "2"):
            raise VaultReadError(
                "Unsupported kvVersion specified",
                reference="vault-kv-version",
                hint="avp.kubernetes.io/kv-version and AVP_KV_VERSION take 1 or 2",
            )
        self.check_path(path)
        params = {"version": str(version)} if (kv == "2" and version not in (None, "")) else None
        log.debug("vault read %s (kv %s, version %s)", path, kv, version or "latest")
        status, body = self._authed("GET", path, what="reading a secret", params=params)
        where = self._where(path, status)
        if status not in (200, 404):
            errors = body.get("errors") if isinstance(body, dict) else None
            detail = f": {'; '.join(map(str, errors))}" if errors else ""
            raise VaultReadError(
                f"Vault read failed{detail} {where}",
                reference="vault-read-failed",
                hint="check the path and the secrets engine",
            )
        body = body if isinstance(body, dict) else {}
        data = body.get("data")
        warnings = body.get("warnings")
        if status == 404 and not data and not warnings:
            suffix = f" with version {version}" if params else ""
            raise VaultReadError(
                f"Could not find secrets at path {path}{suffix} {where}",
                hint="check the path; KV v2 paths include /data/ (secret/data/app)",
            )
        if kv == "1":
            return SecretData(data if isinstance(data, dict) else {})
        if isinstance(data, dict) and "data" in data:
            if data["data"] is None:
                raise VaultReadError(
                    f"The Vault path: {path} is nil - is this version of the secret deleted? {where}",
                    reference="vault-version-deleted",
                    hint="undelete the version, or pin another one",
                )
            if not isinstance(data["data"], dict):
                raise VaultReadError(
                    f"Could not get data from Vault, check that kv-v2 is the correct engine {where}",
                    reference="vault-wrong-engine",
                )
            return SecretData(data["data"])
        if not data:
            raise VaultReadError(
                f"The Vault path: {path} is empty - did you forget to include /data/ in the "
                f"Vault path for kv-v2? {where}",
                reference="vault-missing-data-segment",
                hint="KV v2 paths are written mount/data/name, e.g. secret/data/app",
            )
        raise VaultReadError(
            f"Could not get data from Vault, check that kv-v2 is the correct engine {where}",
            reference="vault-wrong-engine",
            hint='set avp.kubernetes.io/kv-version: "1" for a KV v1 mount',
        )

    def reader(self) -> CachedReader:
        """A read cache for one render: each (path, version, kv-version) is fetched at most once."""
        return CachedReader(self)

    # -- change detection ------------------------------------------------------------------------

    @staticmethod
    def metadata_path(path: str) -> str | None:
        """``mount/data/name`` → ``mount/metadata/name`` (the first ``data`` segment after the mount)."""
        parts = path.strip("/").split("/")
        for i in range(1, len(parts)):
            if parts[i] == "data":
                return "/".join(parts[:i] + ["metadata"] + parts[i + 1 :])
        return None

    def fingerprint(self, path: str, version: str | None = None, kv_version: str | None = None) -> str:
        """A cheap change signal without reading values (KV v2); a keyed hash of the values for KV v1."""
        kv = (kv_version if kv_version is not None else self.config.kv_version).strip()
        meta = self.metadata_path(path) if kv == "2" else None
        if kv == "2" and meta is not None:
            self.check_path(path)
            status, body = self._authed("GET", meta, what="reading secret metadata")
            info = body.get("data") if isinstance(body, dict) else None
            if status == 200 and isinstance(info, dict) and "current_version" in info:
                if version not in (None, ""):
                    entry = (info.get("versions") or {}).get(str(version)) or {}
                    state = (
                        "destroyed"
                        if entry.get("destroyed")
                        else ("deleted" if entry.get("deletion_time") else ("present" if entry else "missing"))
                    )
                    return f"kv2:version={version}:{state}"
                return f"kv2:current_version={info['current_version']}"
            if status == 404:
                return "kv2:missing"
            raise VaultReadError(
                f"cannot read the metadata of {path} {self._where(meta, status)}",
                reference="vault-metadata-failed",
                hint="the policy needs read on the metadata path for change detection",
            )
        try:
            data = self.read(path, version, kv)
        except VaultReadError as exc:
            return f"kv{kv}:error={exc.reference}"
        digest = hmac.new(self._fingerprint_key, go_json(dict(data)).encode("utf-8"), hashlib.sha256)
        return f"kv{kv}:hmac-sha256={digest.hexdigest()}"

    # -- transit -------------------------------------------------------------------------------

    def transit_encrypt(
        self, key_name: str, plaintext: SecretBytes, *, mount: str = "transit", context: bytes | None = None
    ) -> str:
        """Encrypt with a transit key as this identity; returns Vault's ``vault:vN:…`` ciphertext."""
        path, body = _transit_request("encrypt", mount, key_name, plaintext.reveal(), context)
        status, response = self._authed("POST", path, what="encrypting with transit", body=body)
        return _transit_result("encrypt", status, response, self._where(path, status))

    def transit_decrypt(
        self, key_name: str, ciphertext: str, *, mount: str = "transit", context: bytes | None = None
    ) -> SecretBytes:
        """Decrypt a transit ciphertext as this identity; the plaintext comes back as ``SecretBytes``."""
        path, body = _transit_request("decrypt", mount, key_name, ciphertext, context)
        status, response = self._authed("POST", path, what="decrypting with transit", body=body)
        return _transit_result("decrypt", status, response, self._where(path, status))


# ---------------------------------------------------------------------------------------------- transit

_TRANSIT_REFUSALS = {
    403: ("permission denied", "check the token and its policy on this transit key"),
    404: ("no such transit engine or key", "check the engine path and key name"),
    400: ("Vault refused the request", "the ciphertext may belong to another transit key"),
}


def _transit_request(
    op: str, mount: str, key_name: str, payload: bytes | str, context: bytes | None
) -> tuple[str, dict]:
    """The API path and JSON body of a transit ``encrypt`` (payload = plaintext bytes) or ``decrypt``."""
    if op == "encrypt":
        body = {"plaintext": base64.b64encode(bytes(payload)).decode("ascii")}
    else:
        body = {"ciphertext": str(payload)}
    if context is not None:
        body["context"] = base64.b64encode(context).decode("ascii")
    return f"{mount.strip('/')}/{op}/{key_name}", body


def _transit_result(op: str, status: int, response: Any, where: str) -> Any:
    """Vault's ``vault:vN:…`` ciphertext (encrypt) or ``SecretBytes`` plaintext (decrypt).

    A refusal or an answer without the field raises ``VaultTransitError``.
    """
    if status in _TRANSIT_REFUSALS:
        what, hint = _TRANSIT_REFUSALS[status]
        raise VaultTransitError(f"transit {op} failed: {what} {where}", hint=hint)
    data = response.get("data") if isinstance(response, dict) else None
    if status != 200 or not isinstance(data, dict):
        raise VaultTransitError(
            f"transit {op} failed: unexpected answer {where}",
            hint="check that the transit engine is mounted and the key exists",
        )
    if op == "encrypt":
        ciphertext = data.get("ciphertext")
        if not isinstance(ciphertext, str) or not ciphertext:
            raise VaultTransitError(f"transit encrypt failed: no ciphertext in the answer {where}")
        return ciphertext
    try:
        return SecretBytes(base64.b64decode(data.get("plaintext") or "", validate=True))
    except (ValueError, TypeError):
        raise VaultTransitError(f"transit decrypt failed: the plaintext in the answer is not base64 {where}") from None


class TransitClient:
    """Vault's transit engine at one address with one token given explicitly (sops's ``hc_vault`` keys).

    sops takes the address from each file's metadata and the token from ``VAULT_TOKEN`` or
    ``~/.vault-token``; the caller passes both. Same timeout, bounded retries and error
    naming as ``VaultBackend`` (timeouts are retried too, as sops's Vault client does);
    no login, renewal or KV logic. The token never appears in repr or messages.
    """

    def __init__(
        self,
        addr: str,
        token: str,
        *,
        timeout: float = 10.0,
        max_retries: int = 2,
        retry_wait: float = 0.2,
        verify: bool | str = True,
        namespace: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.addr = addr.rstrip("/")
        self._channel = _Channel(
            self.addr,
            describe=self._where,
            namespace=namespace,
            verify=verify,
            timeout=timeout,
            max_retries=max_retries,
            retry_wait=retry_wait,
            retry_timeouts=True,
            sleep=sleep,
            clock=clock,
        )
        self._channel.client.token = token

    def __repr__(self) -> str:
        return f"TransitClient({self.addr!r}, <token redacted>)"

    @property
    def requests_sent(self) -> int:
        return self._channel.requests_sent

    def _where(self, path: str | None = None, status: int | None = None) -> str:
        return _describe(self.addr, path, status)

    def encrypt(self, mount: str, key_name: str, plaintext: bytes, *, context: bytes | None = None) -> str:
        """Wrap ``plaintext`` with the transit key ``mount/keys/key_name``; returns ``vault:vN:…``."""
        path, body = _transit_request("encrypt", mount, key_name, plaintext, context)
        status, response = self._channel.send("POST", path, what="encrypting with transit", body=body)
        return _transit_result("encrypt", status, response, self._where(path, status))

    def decrypt(self, mount: str, key_name: str, ciphertext: str, *, context: bytes | None = None) -> SecretBytes:
        """Unwrap a ``vault:vN:…`` ciphertext; the plaintext comes back as ``SecretBytes``."""
        path, body = _transit_request("decrypt", mount, key_name, ciphertext, context)
        status, response = self._channel.send("POST", path, what="decrypting with transit", body=body)
        return _transit_result("decrypt", status, response, self._where(path, status))


class CachedReader:
    """Per-render memo over ``VaultBackend.read``: one request per (path, version, kv-version).

    Failures are remembered too, so a missing path referenced a thousand times costs one request.
    """

    def __init__(self, backend: VaultBackend) -> None:
        self.backend = backend
        self._cache: dict[tuple[str, str | None, str], SecretData | VaultError] = {}
        self._lock = threading.Lock()

    def read(self, path: str, version: str | None = None, kv_version: str | None = None) -> SecretData:
        kv = (kv_version if kv_version is not None else self.backend.config.kv_version).strip()
        key = (path, (version or None) if kv == "2" else None, kv)
        with self._lock:
            if key not in self._cache:
                try:
                    self._cache[key] = self.backend.read(path, key[1], kv)
                except VaultReadError as exc:
                    self._cache[key] = exc
            result = self._cache[key]
        if isinstance(result, VaultError):
            raise result
        return result

    def fingerprint(self, path: str, version: str | None = None, kv_version: str | None = None) -> str:
        return self.backend.fingerprint(path, version, kv_version)

    @property
    def config(self) -> VaultConfig:
        return self.backend.config
