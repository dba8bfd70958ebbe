"""Authentication and authorization: bearer tokens, service-account JWTs, RBAC, impersonation.

* Tokens: the admin token (``system:masters``), user tokens added by tests, and
  service-account tokens the emulator signs itself (RS256 JWTs with the real
  claim layout, from ``TokenRequest`` or ``APIServer.mint_token``). A missing
  token is ``system:anonymous``; an unknown one is 401.
* ``TokenReview`` accepts exactly the service-account tokens it issued whose
  account still exists (same uid) and whose audiences match.
* With RBAC on, every request is checked against the stored Role, ClusterRole,
  RoleBinding and ClusterRoleBinding objects (verbs, apiGroups, resources and
  ``resource/subresource``, resourceNames, nonResourceURLs; namespaced vs
  cluster scope), answering 403 with the real message. ``system:masters``
  bypasses RBAC, as in a real cluster; discovery paths are open to
  authenticated users (the ``system:discovery`` bootstrap role).
* ``Impersonate-User``/``Impersonate-Group`` need the ``impersonate`` verb on
  ``users``/``groups``/``serviceaccounts``.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field

from secretsync_emulator import status as st

__all__ = ["Auth", "UserInfo"]

ISSUER = "https://kubernetes.default.svc.cluster.local"
RBAC = "rbac.authorization.k8s.io"
# Bootstrap policy the real server installs (system:discovery, system:public-info-viewer, system:basic-user).
_PUBLIC_PATHS = ("/healthz", "/livez", "/readyz", "/version", "/version/")
_DISCOVERY_PATHS = (
    "/api",
    "/api/*",
    "/apis",
    "/apis/*",
    "/openapi",
    "/openapi/*",
    "/.well-known/openid-configuration",
    "/openid/v1/jwks",
)


_SELF_REVIEWS = ("selfsubjectaccessreviews", "selfsubjectrulesreviews")


@dataclass(frozen=True)
class UserInfo:
    name: str
    groups: tuple = ()
    uid: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_master(self) -> bool:
        return "system:masters" in self.groups


ANONYMOUS = UserInfo("system:anonymous", ("system:unauthenticated",))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Auth:
    """Token authentication, RBAC authorization and the authentication/authorization review APIs."""

    def __init__(self, app) -> None:
        self.app = app
        self._lock = threading.RLock()
        self._tokens: dict[str, UserInfo] = {
            app.admin_token: UserInfo("admin", ("system:masters", "system:authenticated")),
        }
        self._key = None
        self._kid = ""
        self.key_listeners: list = []  # told when a signing key is made (persistence keeps it)

    # ------------------------------------------------------------------ tokens
    def add_user(self, name: str, groups: list[str], token: str | None = None) -> str:
        token = token or secrets.token_hex(20)
        groups = list(groups)
        if "system:authenticated" not in groups:
            groups.append("system:authenticated")
        with self._lock:
            self._tokens[token] = UserInfo(name, tuple(groups))
        return token

    def set_admin_token(self, token: str) -> None:
        """Replace the admin token (restored state keeps the kubeconfig valid across restarts)."""
        with self._lock:
            admin = self._tokens.pop(self.app.admin_token, None)
            self.app.admin_token = token
            if admin is not None:
                self._tokens[token] = admin

    def _signing_key(self):
        with self._lock:
            if self._key is None:
                from cryptography.hazmat.primitives.asymmetric import rsa

                self._use_key(rsa.generate_private_key(public_exponent=65537, key_size=2048))
            return self._key

    def _use_key(self, key) -> None:
        self._key = key
        self._kid = _b64url(key.public_key().public_numbers().n.to_bytes(256, "big")[:16])
        for listener in self.key_listeners:
            listener(key)

    @staticmethod
    def key_der(key) -> bytes:
        """A token-signing key as PKCS#8 DER (for the encrypted state file only)."""
        from cryptography.hazmat.primitives import serialization

        return key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def import_signing_key(self, der: bytes) -> None:
        from cryptography.hazmat.primitives import serialization

        with self._lock:
            self._use_key(serialization.load_der_private_key(der, password=None))

    def mint_service_account_token(
        self, namespace: str, name: str, audiences: list[str] | None = None, expiration_seconds: int = 3600
    ) -> str:
        """A signed token for an existing (or, for tests, newly created) ServiceAccount."""
        sa = self.app.store.get(("", "serviceaccounts"), namespace, name)
        if sa is None:
            from secretsync_emulator.resources import WriteOptions

            rt = self.app.registry.lookup("", "v1", "serviceaccounts")
            sa = self.app.api.create(
                rt,
                namespace,
                {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}},
                WriteOptions(manager="secretsync-test"),
            )
        return self._sign(namespace, name, sa["metadata"]["uid"], audiences or [ISSUER], expiration_seconds)[0]

    def _sign(self, namespace: str, name: str, uid: str, audiences: list[str], seconds: int) -> tuple[str, int]:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        key = self._signing_key()
        now = int(time.time())
        exp = now + seconds
        header = {"alg": "RS256", "kid": self._kid}
        claims = {
            "aud": audiences,
            "exp": exp,
            "iat": now,
            "iss": ISSUER,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}},
            "nbf": now,
            "sub": f"system:serviceaccount:{namespace}:{name}",
        }
        signing_input = (
            _b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + _b64url(signature), exp

    def _verify_jwt(self, token: str, audiences: list[str] | None = None) -> tuple[UserInfo, list[str]] | None:
        """The service account of a token this server signed, if valid, unexpired and its account exists."""
        if self._key is None or token.count(".") != 2:
            return None
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        head, body, sig = token.split(".")
        try:
            self._key.public_key().verify(
                _b64url_decode(sig), f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
            claims = json.loads(_b64url_decode(body))
        except (InvalidSignature, ValueError):
            return None
        if claims.get("iss") != ISSUER or int(claims.get("exp", 0)) < time.time():
            return None
        token_aud = list(claims.get("aud") or [])
        wanted = audiences or [ISSUER]
        matched = [a for a in wanted if a in token_aud]
        if not matched:
            return None
        info = claims.get("kubernetes.io") or {}
        ns, sa = info.get("namespace", ""), (info.get("serviceaccount") or {})
        live = self.app.store.get(("", "serviceaccounts"), ns, sa.get("name", ""))
        if live is None or live["metadata"]["uid"] != sa.get("uid"):
            return None
        user = UserInfo(
            f"system:serviceaccount:{ns}:{sa['name']}",
            ("system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"),
            uid=sa.get("uid", ""),
        )
        return user, matched

    def authenticate(self, req) -> UserInfo:
        header = req.headers.get("Authorization") or ""
        if not header:
            user = ANONYMOUS
        else:
            scheme, _, token = header.partition(" ")
            token = token.strip()
            with self._lock:
                user = self._tokens.get(token) if scheme.lower() == "bearer" else None
            if user is None and scheme.lower() == "bearer":
                verified = self._verify_jwt(token)
                user = verified[0] if verified else None
            if user is None:
                raise st.APIError(401, "Unauthorized", "Unauthorized")
        return self._impersonate(req, user)

    def _impersonate(self, req, user: UserInfo) -> UserInfo:
        name = req.headers.get("Impersonate-User")
        groups = req.headers.get_all("Impersonate-Group") or []
        uid = req.headers.get("Impersonate-Uid")
        if not name:
            if groups or uid:
                raise st.APIError(
                    500,
                    "InternalError",
                    'an error on the server ("requested impersonation of groups '
                    'or uid without a user") has prevented the request from '
                    "succeeding",
                )
            return user
        checks = []
        if name.startswith("system:serviceaccount:") and name.count(":") == 3:
            _, _, sa_ns, sa_name = name.split(":")
            checks.append(("serviceaccounts", sa_ns, sa_name))
        else:
            checks.append(("users", "", name))
        checks += [("groups", "", g) for g in groups]
        if uid:
            checks.append(("uids", "", uid))
        for resource, ns, target in checks:
            group = "authentication.k8s.io" if resource == "uids" else ""
            if not self.allowed(user, "impersonate", group, resource, "", ns, target):
                scope = f'in the namespace "{ns}"' if ns else "at the cluster scope"
                raise st.forbidden(
                    group,
                    resource,
                    target,
                    f'User "{user.name}" cannot impersonate resource "{resource}" in API group "{group}" {scope}',
                )
        new_groups = list(groups)
        if name.startswith("system:serviceaccount:") and not groups:
            ns = name.split(":")[2]
            new_groups = ["system:serviceaccounts", f"system:serviceaccounts:{ns}"]
        if name != "system:anonymous" and "system:authenticated" not in new_groups:
            new_groups.append("system:authenticated")
        return UserInfo(name, tuple(new_groups), uid=uid or "")

    # ------------------------------------------------------------------ RBAC
    def authorize(self, req, rt) -> None:
        if not self.app.rbac:
            return
        verb = req.verb
        name = req.name or _single_name(req)
        if not self.allowed(req.user, verb, rt.group, rt.plural, req.subresource, req.namespace, name):
            resource = f"{rt.plural}/{req.subresource}" if req.subresource else rt.plural
            scope = f'in the namespace "{req.namespace}"' if req.namespace else "at the cluster scope"
            raise st.forbidden(
                rt.group,
                rt.plural,
                req.name,
                f'User "{req.user.name}" cannot {verb} resource "{resource}" in API group "{rt.group}" {scope}',
            )

    def authorize_non_resource(self, req, path: str) -> None:
        if not self.app.rbac or req.user.is_master:
            return
        if path in _PUBLIC_PATHS or (_path_in(path, _DISCOVERY_PATHS) and "system:authenticated" in req.user.groups):
            return
        if self._non_resource_allowed(req.user, "get", path):
            return
        raise st.APIError(403, "Forbidden", f'forbidden: User "{req.user.name}" cannot get path "{path}"', {})

    def _subject_matches(self, subject: dict, user: UserInfo, binding_ns: str) -> bool:
        kind = subject.get("kind")
        if kind == "User":
            return subject.get("name") == user.name
        if kind == "Group":
            return subject.get("name") in user.groups
        if kind == "ServiceAccount":
            ns = subject.get("namespace") or binding_ns
            return user.name == f"system:serviceaccount:{ns}:{subject.get('name')}"
        return False

    def _rules_for(self, user: UserInfo, namespace: str):
        """RBAC rules that apply to ``user`` for a request in ``namespace`` ("" = cluster scope)."""
        store = self.app.store
        crb, _ = store.list((RBAC, "clusterrolebindings"), shared=True)
        for binding in crb:
            if any(self._subject_matches(s, user, "") for s in binding.get("subjects") or []):
                role = store.get((RBAC, "clusterroles"), "", (binding.get("roleRef") or {}).get("name", ""))
                yield from (role or {}).get("rules") or []
        if namespace:
            rbs, _ = store.list((RBAC, "rolebindings"), namespace, shared=True)
            for binding in rbs:
                if not any(self._subject_matches(s, user, namespace) for s in binding.get("subjects") or []):
                    continue
                ref = binding.get("roleRef") or {}
                if ref.get("kind") == "ClusterRole":
                    role = store.get((RBAC, "clusterroles"), "", ref.get("name", ""))
                else:
                    role = store.get((RBAC, "roles"), namespace, ref.get("name", ""))
                yield from (role or {}).get("rules") or []

    def allowed(
        self, user: UserInfo, verb: str, group: str, resource: str, subresource: str, namespace: str, name: str
    ) -> bool:
        if not self.app.rbac or user.is_master:
            return True
        if (
            verb == "create"
            and group == "authorization.k8s.io"
            and resource in _SELF_REVIEWS
            and "system:authenticated" in user.groups
        ):
            return True  # the system:basic-user bootstrap role
        combined = f"{resource}/{subresource}" if subresource else resource
        for rule in self._rules_for(user, namespace):
            verbs = rule.get("verbs") or []
            if "*" not in verbs and verb not in verbs:
                continue
            groups = rule.get("apiGroups") or []
            if "*" not in groups and group not in groups:
                continue
            resources = rule.get("resources") or []
            if not any(r == "*" or r == combined or (subresource and r == f"*/{subresource}") for r in resources):
                continue
            names = rule.get("resourceNames") or []
            if names and name not in names:
                continue
            return True
        return False

    def _non_resource_allowed(self, user: UserInfo, verb: str, path: str) -> bool:
        for rule in self._rules_for(user, ""):
            verbs = rule.get("verbs") or []
            if ("*" in verbs or verb in verbs) and _path_in(path, rule.get("nonResourceURLs") or []):
                return True
        return False

    # ------------------------------------------------------------------ review APIs
    def token_request(self, namespace: str, name: str, body: dict) -> dict:
        sa = self.app.store.get(("", "serviceaccounts"), namespace, name)
        if sa is None:
            raise st.not_found("", "serviceaccounts", name)
        spec = body.get("spec") or {}
        seconds = spec.get("expirationSeconds") or 3600
        if not isinstance(seconds, int) or seconds < 600:
            raise st.invalid(
                "authentication.k8s.io",
                "TokenRequest",
                name,
                [
                    (
                        "FieldValueInvalid",
                        "spec.expirationSeconds",
                        f"Invalid value: {seconds}: may not specify a duration less than 10 minutes",
                    )
                ],
            )
        audiences = spec.get("audiences") or [ISSUER]
        token, exp = self._sign(namespace, name, sa["metadata"]["uid"], audiences, seconds)
        return {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
            "spec": {
                "audiences": audiences,
                "expirationSeconds": seconds,
                "boundObjectRef": spec.get("boundObjectRef"),
            },
            "status": {"token": token, "expirationTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(exp))},
        }

    def token_review(self, body: dict) -> dict:
        spec = body.get("spec") or {}
        token = spec.get("token") or ""
        audiences = spec.get("audiences") or None
        result = self._verify_jwt(token, audiences) if isinstance(token, str) else None
        out_status: dict
        if result is None:
            with self._lock:
                static = self._tokens.get(token) if isinstance(token, str) else None
            if static is not None and not audiences:
                out_status = {
                    "authenticated": True,
                    "user": {"username": static.name, "groups": list(static.groups)},
                    "audiences": [ISSUER],
                }
            else:
                out_status = {"user": {}, "error": "[invalid bearer token, service account token is not valid]"}
        else:
            user, matched = result
            out_status = {
                "authenticated": True,
                "user": {"username": user.name, "uid": user.uid, "groups": list(user.groups)},
                "audiences": matched,
            }
        return {
            "kind": "TokenReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": spec,
            "status": out_status,
        }

    def rules_review(self, body: dict, req) -> dict:
        """SelfSubjectRulesReview: the RBAC rules that apply to the caller in ``spec.namespace``."""
        spec = body.get("spec") or {}
        namespace = spec.get("namespace") or ""
        user = req.user
        if not self.app.rbac or user.is_master:
            resource_rules = [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]
            non_resource = [{"verbs": ["*"], "nonResourceURLs": ["*"]}]
        else:
            resource_rules = [
                {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"], "resources": list(_SELF_REVIEWS)}
            ]
            non_resource = [{"verbs": ["get"], "nonResourceURLs": list(_DISCOVERY_PATHS + _PUBLIC_PATHS)}]
            for rule in self._rules_for(user, namespace):
                if rule.get("nonResourceURLs"):
                    non_resource.append({"verbs": rule.get("verbs") or [], "nonResourceURLs": rule["nonResourceURLs"]})
                else:
                    out = {k: rule[k] for k in ("verbs", "apiGroups", "resources", "resourceNames") if rule.get(k)}
                    resource_rules.append(out)
        return {
            "kind": "SelfSubjectRulesReview",
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": spec,
            "status": {"resourceRules": resource_rules, "nonResourceRules": non_resource, "incomplete": False},
        }

    def access_review(self, body: dict, req) -> dict:
        kind = body.get("kind") or "SelfSubjectAccessReview"
        spec = body.get("spec") or {}
        if kind == "SubjectAccessReview":
            user = UserInfo(spec.get("user", ""), tuple(spec.get("groups") or ()), uid=spec.get("uid", ""))
        else:
            user = req.user
        attrs = spec.get("resourceAttributes")
        if attrs:
            allowed = self.allowed(
                user,
                attrs.get("verb", ""),
                attrs.get("group", ""),
                attrs.get("resource", ""),
                attrs.get("subresource", ""),
                attrs.get("namespace", ""),
                attrs.get("name", ""),
            )
        else:
            nra = spec.get("nonResourceAttributes") or {}
            allowed = (
                not self.app.rbac
                or user.is_master
                or self._non_resource_allowed(user, nra.get("verb", ""), nra.get("path", ""))
            )
        out = {"allowed": allowed}
        if allowed and self.app.rbac and not user.is_master:
            out["reason"] = "RBAC: allowed by the emulator's stored roles"
        return {
            "kind": kind,
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": spec,
            "status": out,
        }

    def oidc_document(self, path: str) -> dict:
        if path == "/.well-known/openid-configuration":
            return {
                "issuer": ISSUER,
                "jwks_uri": f"{self.app.url}/openid/v1/jwks",
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        numbers = self._signing_key().public_key().public_numbers()
        return {
            "keys": [
                {
                    "use": "sig",
                    "kty": "RSA",
                    "kid": self._kid,
                    "alg": "RS256",
                    "n": _b64url(numbers.n.to_bytes(256, "big")),
                    "e": _b64url(numbers.e.to_bytes(3, "big")),
                }
            ]
        }


def _single_name(req) -> str:
    """The object a list/watch is limited to by ``fieldSelector=metadata.name=X`` (RBAC resourceNames apply)."""
    if req.verb not in ("list", "watch"):
        return ""
    text = req.query.get("fieldSelector") or ""
    terms = [t for t in text.split(",") if t]
    for term in terms:
        for op in ("==", "="):
            key, sep, value = term.partition(op)
            if sep and key == "metadata.name" and "!" not in key:
                return value
    return ""


def _path_in(path: str, patterns) -> bool:
    for pattern in patterns:
        if pattern == "*" or pattern == path or (pattern.endswith("*") and path.startswith(pattern[:-1])):
            return True
    return False
