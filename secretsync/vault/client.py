"""The Vault client edge: login, renewal, bounded retries and safe KV reads (the only hvac import).

``VaultBackend`` (configured by ``secretsync.vault.config.VaultConfig``) logs in (token,
approle, k8s, userpass, github), renews its token, logs in again once when Vault answers
403 on an expired token, applies a timeout to every request and retries 5xx/sealed/
connection failures a bounded number of times with backoff. ``VaultBackend.reader()``
gives a per-render ``CachedReader`` so each (path, version, kv-version) is read at most
once. KV reads follow AVP's rules and error wording (§8 of the spec); ``fingerprint``
gives a cheap change signal per path. ``Channel`` is the one transport (also used by
``secretsync.vault.transit.TransitEndpoint``).

hvac provides the HTTP adapter (session, token and namespace headers, TLS); the
requests themselves are plain API calls so that one retry layer covers all of them
and response bodies can be parsed keeping JSON number text (``JSONNumber``).

Errors name the Vault address, path, auth method and HTTP status; never a token or
a value. Values leave this module inside ``SecretData``, whose repr is redacted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import hvac
import hvac.adapters
import requests

from secretsync.retry import RetriesExhausted, RetryPolicy
from secretsync.secretvalue import SecretBytes
from secretsync.vault.config import DEFAULT_MOUNTS, VaultConfig
from secretsync.vault.errors import (
    VaultAuthError,
    VaultConfigError,
    VaultError,
    VaultReadError,
    VaultUnavailable,
)
from secretsync.vault.jsonpath import JSONNumber, go_json
from secretsync.vault.transit import decrypt_answer, encrypt_answer, transit_request
from secretsync.vault.values import SecretData

__all__ = [
    "VaultBackend",
    "CachedReader",
    "SecretData",
    "TransitEndpoint",
    "Channel",
    "describe",
]

log = logging.getLogger(__name__)

_RETRY_STATUSES = (500, 502, 503, 504)


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


def describe(addr: str, path: str | None, status: int | None, auth: str | None = None) -> str:
    """The ``(Vault ADDR, path P, auth A, HTTP S)`` suffix of every message (never a token or value)."""
    parts = [f"Vault {addr}"]
    if path is not None:
        parts.append(f"path {path}")
    if auth is not None:
        parts.append(f"auth {auth}")
    if status is not None:
        parts.append(f"HTTP {status}")
    return "(" + ", ".join(parts) + ")"


def _kv2_values(path: str, data: Any, where: str) -> SecretData:
    """The values of a KV v2 answer's ``data`` (``data.data``), with AVP's messages when it is not one."""
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
            f"The Vault path: {path} is empty - did you forget to include /data/ in the Vault path for kv-v2? {where}",
            reference="vault-missing-data-segment",
            hint="KV v2 paths are written mount/data/name, e.g. secret/data/app",
        )
    raise VaultReadError(
        f"Could not get data from Vault, check that kv-v2 is the correct engine {where}",
        reference="vault-wrong-engine",
        hint='set avp.kubernetes.io/kv-version: "1" for a KV v1 mount',
    )


class Channel:
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
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
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
        self._channel = Channel(
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
        config_file: str | os.PathLike[str] | None = None,
        secret_values: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> VaultBackend:
        return cls(VaultConfig.from_env(env, config_file, secret_values), **kwargs)

    @property
    def addr(self) -> str:
        return self.config.addr

    def _where(self, path: str | None = None, status: int | None = None) -> str:
        return describe(self.config.addr, path, status, self.config.auth_type)

    # -- transport -------------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
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
        mount = (cfg.mount_path or DEFAULT_MOUNTS[cfg.auth_type]).strip("/")
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
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
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

    def _kv_version(self, kv_version: str | None) -> str:
        kv = (kv_version if kv_version is not None else self.config.kv_version).strip()
        if kv not in ("1", "2"):
            raise VaultReadError(
                "Unsupported kvVersion specified",
                reference="vault-kv-version",
                hint="avp.kubernetes.io/kv-version and AVP_KV_VERSION take 1 or 2",
            )
        return kv

    def read(self, path: str, version: str | None = None, kv_version: str | None = None) -> SecretData:
        """Read one secret as AVP does: ``GET /v1/<path>[?version=N]``; KV v2 gives ``data.data``."""
        kv = self._kv_version(kv_version)
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
        if status == 404 and not data and not body.get("warnings"):
            suffix = f" with version {version}" if params else ""
            raise VaultReadError(
                f"Could not find secrets at path {path}{suffix} {where}",
                hint="check the path; KV v2 paths include /data/ (secret/data/app)",
            )
        if kv == "1":
            return SecretData(data if isinstance(data, dict) else {})
        return _kv2_values(path, data, where)

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
        path, body = transit_request("encrypt", mount, key_name, plaintext.reveal(), context)
        status, response = self._authed("POST", path, what="encrypting with transit", body=body)
        return encrypt_answer(status, response, self._where(path, status))

    def transit_decrypt(
        self, key_name: str, ciphertext: str, *, mount: str = "transit", context: bytes | None = None
    ) -> SecretBytes:
        """Decrypt a transit ciphertext as this identity; the plaintext comes back as ``SecretBytes``."""
        path, body = transit_request("decrypt", mount, key_name, ciphertext, context)
        status, response = self._authed("POST", path, what="decrypting with transit", body=body)
        return decrypt_answer(status, response, self._where(path, status))


class TransitEndpoint:
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
        self._channel = Channel(
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
        return f"TransitEndpoint({self.addr!r}, <token redacted>)"

    @property
    def requests_sent(self) -> int:
        return self._channel.requests_sent

    def _where(self, path: str | None = None, status: int | None = None) -> str:
        return describe(self.addr, path, status)

    def encrypt(self, mount: str, key_name: str, plaintext: bytes, *, context: bytes | None = None) -> str:
        """Wrap ``plaintext`` with the transit key ``mount/keys/key_name``; returns ``vault:vN:…``."""
        path, body = transit_request("encrypt", mount, key_name, plaintext, context)
        status, response = self._channel.send("POST", path, what="encrypting with transit", body=body)
        return encrypt_answer(status, response, self._where(path, status))

    def decrypt(self, mount: str, key_name: str, ciphertext: str, *, context: bytes | None = None) -> SecretBytes:
        """Unwrap a ``vault:vN:…`` ciphertext; the plaintext comes back as ``SecretBytes``."""
        path, body = transit_request("decrypt", mount, key_name, ciphertext, context)
        status, response = self._channel.send("POST", path, what="decrypting with transit", body=body)
        return decrypt_answer(status, response, self._where(path, status))


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
