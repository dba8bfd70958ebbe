"""Create, read, update, patch and delete with the real API server's semantics.

The HTTP layer (``server.py``) parses a request into a resource type, namespace,
name and options; this module does the rest: server-owned metadata (uid,
resourceVersion, generation, creationTimestamp, managedFields), status
subresource rules, Secret and Namespace and CRD behaviour, finalizers and owner
garbage collection, optimistic concurrency, dry runs. Field-level algorithms
(patches, server-side apply, selectors, schemas) live in their own modules.
"""

from __future__ import annotations

import base64
import copy
import json
import random
import time
import uuid
from dataclasses import dataclass, field

from secretsync_emulator import defaults, validation
from secretsync_emulator import status as st
from secretsync_emulator.registry import Registry, ResourceType
from secretsync_emulator.storage import Store

__all__ = ["ResourceAPI", "WriteOptions", "now_rfc3339"]

_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery's utilrand alphanumerics
INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def now_rfc3339(clock=time.time) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock()))


@dataclass
class WriteOptions:
    """What a write request carries besides the object."""

    manager: str = ""
    dry_run: bool = False
    subresource: str = ""
    operation: str = "Update"  # managedFields operation: Update or Apply
    field_validation: str = "Strict"
    preconditions: dict = field(default_factory=dict)


def _name_rule(rt: ResourceType) -> str:
    if rt.kind == "Namespace":
        return "label"
    if rt.kind == "Service":
        return "dns1035"
    if rt.group == "rbac.authorization.k8s.io":
        return "path"
    return "subdomain"


def _strip_volatile(obj: dict) -> dict:
    """The object without what changes on every write (for no-op detection). A new top level and
    ``metadata`` only: everything else is shared with ``obj`` and must not be modified."""
    out = dict(obj)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        meta = out["metadata"] = dict(meta)
        meta.pop("resourceVersion", None)
        if isinstance(meta.get("managedFields"), list):
            meta["managedFields"] = [
                {k: v for k, v in entry.items() if k != "time"} if isinstance(entry, dict) else entry
                for entry in meta["managedFields"]
            ]
    return out


def _spec_part(obj: dict, rt: ResourceType) -> dict:
    """What counts for ``generation``: everything but metadata (and status when it is a subresource)."""
    skip = {"metadata", "apiVersion", "kind"} | ({"status"} if rt.status else set())
    return {k: v for k, v in obj.items() if k not in skip}


class ResourceAPI:
    """The object semantics of the API server over a ``Store`` and a ``Registry``."""

    def __init__(self, store: Store, registry: Registry, clock=time.time) -> None:
        self.store = store
        self.registry = registry
        self.clock = clock
        self.ns_rt = registry.lookup("", "v1", "namespaces")
        self.crd_rt = registry.lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        self.sa_rt = registry.lookup("", "v1", "serviceaccounts")

    def bootstrap(self) -> None:
        """The namespaces (and their default ServiceAccounts) every cluster starts with."""
        for name in INITIAL_NAMESPACES:
            if self.store.get(("", "namespaces"), "", name) is None:
                self.create(
                    self.ns_rt,
                    "",
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
                    WriteOptions(manager="kube-apiserver"),
                )

    # ------------------------------------------------------------------ helpers
    def _schema(self, rt: ResourceType):
        try:
            from secretsync_emulator import schemas
        except ImportError:
            return None
        crd = None
        if rt.crd:
            crd = self.store.peek(self.crd_rt.group_resource, "", rt.crd)
        return schemas.schema_for(rt.group, rt.version, rt.kind, crd=crd)

    def _record_managed_fields(self, rt: ResourceType, old: dict | None, new: dict, opts: WriteOptions) -> None:
        """managedFields after a non-apply write (apply results come with their own)."""
        if opts.operation == "Apply":
            return
        from secretsync_emulator import fieldmanager

        managed = fieldmanager.record_update(
            old, new, opts.manager, "Update", self._schema(rt), opts.subresource or None
        )
        if managed:
            new["metadata"]["managedFields"] = managed
        else:
            new["metadata"].pop("managedFields", None)

    def _out(self, rt: ResourceType, obj: dict) -> dict:
        """An object as served at ``rt``'s version (CRD versions convert with the None strategy)."""
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind
        return obj

    def _require_namespace(self, rt: ResourceType, namespace: str, creating: bool) -> None:
        if not rt.namespaced:
            return
        ns = self.store.peek(("", "namespaces"), "", namespace)
        if ns is None:
            raise st.not_found("", "namespaces", namespace)
        if creating and ns["metadata"].get("deletionTimestamp"):
            raise st.forbidden(
                rt.group,
                rt.plural,
                "",
                f"unable to create new content in namespace {namespace} because it is being terminated",
                causes=[
                    {
                        "reason": "NamespaceTerminating",
                        "message": f"namespace {namespace} is being terminated",
                        "field": "metadata.namespace",
                    }
                ],
            )

    def check_body_identity(self, rt: ResourceType, obj: dict, namespace: str, name: str | None) -> None:
        """The body must be of the endpoint's kind, in its namespace, with its name (PUT)."""
        if not isinstance(obj, dict):
            raise st.bad_request(f"the object provided is unrecognized (must be of type {rt.kind})")
        kind = obj.get("kind")
        api_version = obj.get("apiVersion")
        if not kind or not api_version:
            raise st.bad_request(f"Object '{'Kind' if not kind else 'apiVersion'}' is missing in the request body")
        body_group = api_version.rpartition("/")[0] if "/" in api_version else ""
        if kind != rt.kind or body_group != rt.group:
            version = api_version.rpartition("/")[2]
            internal = f"{rt.group.split('.')[0] or 'core'}.{rt.kind}"  # the hub (internal) type's name
            raise st.bad_request(
                f'{kind} in version "{version}" cannot be handled as a {rt.kind}: '
                f"converting ({version}.{kind}) to ({internal}): unknown conversion"
            )
        if not any(t.version == api_version.rpartition("/")[2] for t in self.registry.versions_of(rt.group, rt.plural)):
            raise st.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({rt.api_version})"
            )
        meta = obj.get("metadata")
        if meta is None:
            obj["metadata"] = meta = {}
        if not isinstance(meta, dict):
            raise st.bad_request(
                f'{kind} in version "{rt.version}" cannot be handled as a {rt.kind}: metadata must be an object'
            )
        body_ns = meta.get("namespace")
        if rt.namespaced:
            if body_ns and body_ns != namespace:
                raise st.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if name is not None and meta.get("name") and meta["name"] != name:
            raise st.bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
        if name is not None and not meta.get("name"):
            meta["name"] = name

    # ------------------------------------------------------------------ reads
    def get(self, rt: ResourceType, namespace: str, name: str) -> dict:
        obj = self.store.get(rt.group_resource, namespace if rt.namespaced else "", name)
        if obj is None:
            raise st.not_found(rt.group, rt.plural, name)
        return self._out(rt, obj)

    def list(
        self, rt: ResourceType, namespace: str | None, label_selector=None, field_selector=None
    ) -> tuple[list[dict], int]:
        """Matching objects, read-only: the top level is a fresh dict, nested values are shared with the store."""
        items, rv = self.store.list(rt.group_resource, namespace if rt.namespaced else None, shared=True)
        out = []
        for obj in items:
            if label_selector is not None and not label_selector.matches(obj["metadata"].get("labels") or {}):
                continue
            if field_selector is not None and not field_selector.matches(obj):
                continue
            out.append(self._out(rt, dict(obj)))
        return out, rv

    # ------------------------------------------------------------------ create
    def create(self, rt: ResourceType, namespace: str, obj: dict, opts: WriteOptions) -> dict:
        with self.store.lock:
            self.check_body_identity(rt, obj, namespace, None)
            meta = obj["metadata"]
            if opts.subresource:
                raise st.method_not_allowed()
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + "".join(random.choice(_GENERATE_ALPHABET) for _ in range(5))
            name = meta.get("name") or ""
            if not name:
                raise st.invalid(
                    rt.group,
                    rt.kind,
                    "",
                    [("FieldValueRequired", "metadata.name", "Required value: name or generateName is required")],
                )
            self._require_namespace(rt, namespace, creating=True)
            if self.store.peek(rt.group_resource, meta.get("namespace", ""), name) is not None:
                raise st.already_exists(rt.group, rt.plural, name)
            for server_owned in (
                "uid",
                "resourceVersion",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "selfLink",
            ):
                meta.pop(server_owned, None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339(self.clock)
            if rt.generation:
                meta["generation"] = 1
            if rt.status and rt.crd:
                obj.pop("status", None)
            self._prepare(rt, None, obj, opts)
            self._validate(rt, None, obj)
            self._record_managed_fields(rt, None, obj, opts)
            defaults.allocate(rt.group, rt.kind, None, obj)  # after the field manager: owned by nobody
            if opts.dry_run:
                return self._out(rt, obj)
            stored = self.store.put(rt.group_resource, obj)
            self._after_write(rt, None, stored)
            out = self._out(rt, stored)
            self._collect_if_dangling(rt, stored)
            return out

    # ------------------------------------------------------------------ update
    def update(
        self, rt: ResourceType, namespace: str, name: str, obj: dict, opts: WriteOptions, allow_create: bool = False
    ) -> tuple[dict, bool]:
        """PUT (or a patch's result). Returns (object, created)."""
        with self.store.lock:
            self.check_body_identity(rt, obj, namespace, name)
            ns = namespace if rt.namespaced else ""
            old = self.store.get(rt.group_resource, ns, name)
            if old is None:
                if opts.subresource or not allow_create:
                    raise st.not_found(rt.group, rt.plural, name)
                obj["metadata"].pop("resourceVersion", None)
                return self.create(rt, namespace, obj, opts), True
            meta = obj["metadata"]
            sent_rv = meta.get("resourceVersion")
            if sent_rv and sent_rv != old["metadata"]["resourceVersion"]:
                raise st.conflict(rt.group, rt.plural, name, st.STALE)
            new = self._merge_update(rt, old, obj, opts)
            return self._commit_update(rt, old, new, opts), False

    def _merge_update(self, rt: ResourceType, old: dict, obj: dict, opts: WriteOptions) -> dict:
        """Apply the status-subresource split and keep the fields only the server may set."""
        if opts.subresource == "status":
            # a second private copy of the stored object (the caller holds the store lock, so it equals
            # ``old``); json.loads of the stored text is several times cheaper than copy.deepcopy
            new = self.store.get(rt.group_resource, old["metadata"].get("namespace", ""), old["metadata"]["name"])
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
            # The status endpoint may not change metadata other than what the server owns.
            if opts.operation == "Apply":
                new["metadata"]["managedFields"] = obj["metadata"].get("managedFields")
        else:
            new = obj
            if rt.status:
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
                else:
                    new.pop("status", None)
        meta, old_meta = new["metadata"], old["metadata"]
        for owned in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "namespace",
            "name",
        ):
            if owned in old_meta:
                meta[owned] = old_meta[owned]
            else:
                meta.pop(owned, None)
        meta["resourceVersion"] = old_meta["resourceVersion"]
        return new

    def _commit_update(self, rt: ResourceType, old: dict, new: dict, opts: WriteOptions) -> dict:
        meta = new["metadata"]
        self._prepare(rt, old, new, opts)
        if rt.generation and _spec_part(new, rt) != _spec_part(old, rt):
            meta["generation"] = int(old["metadata"].get("generation") or 0) + 1
        self._validate(rt, old, new)
        self._record_managed_fields(rt, old, new, opts)
        defaults.allocate(rt.group, rt.kind, old, new)
        if _strip_volatile(new) == _strip_volatile(old):
            return self._out(rt, old)  # a no-op write: no new resourceVersion, no event
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            if opts.dry_run:
                return self._out(rt, new)
            return self._out(rt, self._remove(rt, new))
        if opts.dry_run:
            return self._out(rt, new)
        stored = self.store.put(rt.group_resource, new)
        self._after_write(rt, old, stored)
        out = self._out(rt, stored)
        if (old["metadata"].get("ownerReferences") or []) != (meta.get("ownerReferences") or []):
            self._collect_if_dangling(rt, stored)
        return out

    # ------------------------------------------------------------------ kind rules
    def _prepare(self, rt: ResourceType, old: dict | None, obj: dict, opts: WriteOptions) -> None:
        """Defaulting and normalisation the real server does for these kinds."""
        key = (rt.group, rt.kind)
        if rt.crd:
            from secretsync_emulator import crvalidation

            crvalidation.apply_defaults(obj, rt.schema)
        else:
            defaults.apply_defaults(rt.group, rt.kind, obj)
        if key == ("", "Secret"):
            self._fold_string_data(obj)
        elif key == ("", "Namespace"):
            if old is None:
                obj.setdefault("spec", {})["finalizers"] = ["kubernetes"]
                obj["status"] = {"phase": "Active"}
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
        elif key == ("apiextensions.k8s.io", "CustomResourceDefinition"):
            causes = validation.crd_causes(obj)
            if causes:
                raise st.invalid(rt.group, rt.kind, obj["metadata"].get("name", ""), causes)
            if old is None or opts.subresource != "status":
                spec = obj["spec"]
                names = dict(spec["names"])
                names.setdefault("singular", names["kind"].lower())
                names.setdefault("listKind", names["kind"] + "List")
                storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
                stored_versions = list(((old or {}).get("status") or {}).get("storedVersions") or [])
                if storage not in stored_versions:
                    stored_versions.append(storage)
                ts = now_rfc3339(self.clock)
                obj["status"] = {
                    "acceptedNames": names,
                    "conditions": [
                        {
                            "type": "NamesAccepted",
                            "status": "True",
                            "lastTransitionTime": ts,
                            "reason": "NoConflicts",
                            "message": "no conflicts found",
                        },
                        {
                            "type": "Established",
                            "status": "True",
                            "lastTransitionTime": ts,
                            "reason": "InitialNamesAccepted",
                            "message": "the initial names have been accepted",
                        },
                    ],
                    "storedVersions": stored_versions,
                }
                if old is not None and old.get("status", {}).get("conditions"):
                    obj["status"]["conditions"] = old["status"]["conditions"]

    def _fold_string_data(self, obj: dict) -> None:
        """``stringData`` is write-only: merged into ``data`` (base64), overriding keys, then dropped."""
        string_data = obj.pop("stringData", None)
        data = obj.get("data")
        if data is None:
            data = {}
        if not isinstance(data, dict) or (string_data is not None and not isinstance(string_data, dict)):
            raise st.bad_request(
                'Secret in version "v1" cannot be handled as a Secret: data and stringData must be maps of strings'
            )
        for key, value in data.items():
            if not isinstance(value, str):
                raise st.bad_request(
                    f'Secret in version "v1" cannot be handled as a Secret: data[{key}] must be a base64 string'
                )
            try:
                base64.b64decode(value, validate=True)
            except ValueError:
                position = _first_bad_base64_byte(value)
                raise st.bad_request(
                    f'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at '
                    f"input byte {position}"
                ) from None
        for key, value in (string_data or {}).items():
            if not isinstance(value, str):
                raise st.bad_request(
                    f'Secret in version "v1" cannot be handled as a Secret: stringData[{key}] must be a string'
                )
            data[key] = base64.b64encode(value.encode("utf-8")).decode("ascii")
        if data:
            obj["data"] = data
        else:
            obj.pop("data", None)

    def _validate(self, rt: ResourceType, old: dict | None, obj: dict) -> None:
        meta = obj["metadata"]
        name = meta.get("name", "")
        causes = []
        if old is None:
            causes += validation.name_causes(name, _name_rule(rt))
        causes += validation.metadata_causes(meta)
        if rt.group == "" and rt.kind in ("Secret", "ConfigMap"):
            causes += self._data_causes(rt, old, obj)
        if rt.crd:
            causes += self._custom_resource_causes(rt, obj)
        if causes:
            raise st.invalid(rt.group, rt.kind, name, causes)

    def _data_causes(self, rt: ResourceType, old: dict | None, obj: dict) -> list:
        causes = []
        data = obj.get("data") or {}
        causes += validation.data_key_causes(data, "data")
        if rt.kind == "ConfigMap":
            binary = obj.get("binaryData") or {}
            causes += validation.data_key_causes(binary, "binaryData")
            for key in set(data) & set(binary):
                causes.append(
                    ("FieldValueInvalid", "data", f'Invalid value: "{key}": duplicate of key present in binaryData')
                )
            size = sum(len(k) + len(v) for k, v in data.items()) + sum(
                len(k) + len(v) * 3 // 4 for k, v in binary.items()
            )
        else:
            size = sum(len(base64.b64decode(v)) for v in data.values())
        if size > 1024 * 1024:
            causes.append(("FieldValueTooLong", "data", "Too long: must have at most 1048576 bytes"))
        if old is not None:
            if old.get("immutable"):
                if not obj.get("immutable"):
                    causes.append(
                        ("FieldValueForbidden", "immutable", "Forbidden: field is immutable when `immutable` is set")
                    )
                for part in ("data", "binaryData"):
                    if (obj.get(part) or {}) != (old.get(part) or {}):
                        causes.append(
                            ("FieldValueForbidden", part, "Forbidden: field is immutable when `immutable` is set")
                        )
            if rt.kind == "Secret" and obj.get("type") != old.get("type"):
                causes.append(("FieldValueInvalid", "type", f'Invalid value: "{obj.get("type")}": field is immutable'))
        return causes

    def _custom_resource_causes(self, rt: ResourceType, obj: dict) -> list:
        from secretsync_emulator import crvalidation

        return crvalidation.validate(obj, rt.schema)

    # ------------------------------------------------------------------ side effects
    def _after_write(self, rt: ResourceType, old: dict | None, new: dict) -> None:
        if rt.group == "apiextensions.k8s.io" and rt.kind == "CustomResourceDefinition":
            self.registry.set_crd(new)
        elif rt.group == "" and rt.kind == "Namespace" and old is None:
            name = new["metadata"]["name"]
            if self.store.get(("", "serviceaccounts"), name, "default") is None:
                self.create(
                    self.sa_rt,
                    name,
                    {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": name}},
                    WriteOptions(manager="kube-controller-manager"),
                )

    # ------------------------------------------------------------------ delete
    def delete(
        self, rt: ResourceType, namespace: str, name: str, options: dict, dry_run: bool = False
    ) -> tuple[int, dict]:
        """DELETE one object. Returns (HTTP code, body)."""
        with self.store.lock:
            ns = namespace if rt.namespaced else ""
            obj = self.store.get(rt.group_resource, ns, name)
            if obj is None:
                raise st.not_found(rt.group, rt.plural, name)
            pre = options.get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != obj["metadata"]["uid"]:
                raise st.conflict(
                    rt.group,
                    rt.plural,
                    name,
                    f"Precondition failed: UID in precondition: "
                    f"{pre['uid']}, UID in object meta: {obj['metadata']['uid']}",
                )
            if pre.get("resourceVersion") and pre["resourceVersion"] != obj["metadata"]["resourceVersion"]:
                raise st.conflict(
                    rt.group,
                    rt.plural,
                    name,
                    f"Precondition failed: ResourceVersion in "
                    f"precondition: {pre['resourceVersion']}, ResourceVersion in object meta: "
                    f"{obj['metadata']['resourceVersion']}",
                )
            policy = options.get("propagationPolicy") or ("Orphan" if options.get("orphanDependents") else None)
            if policy not in (None, "Orphan", "Background", "Foreground"):
                raise st.invalid(
                    "meta.k8s.io",
                    "DeleteOptions",
                    "",
                    [
                        (
                            "FieldValueNotSupported",
                            "propagationPolicy",
                            f'Unsupported value: "{policy}": supported values: "Foreground", "Background", "Orphan", '
                            f'"nil"',
                        )
                    ],
                )
            if dry_run:
                return 200, self._out(rt, obj)
            if rt.group == "" and rt.kind == "Namespace":
                return 200, self._out(rt, self._delete_namespace(obj))
            if obj["metadata"].get("finalizers"):
                if not obj["metadata"].get("deletionTimestamp"):
                    obj["metadata"]["deletionTimestamp"] = now_rfc3339(self.clock)
                    obj["metadata"]["deletionGracePeriodSeconds"] = 0
                    obj = self.store.put(rt.group_resource, obj)
                return 200, self._out(rt, obj)
            if policy == "Foreground":
                self._delete_dependents(obj["metadata"]["uid"])
            elif policy == "Orphan":
                self._orphan_dependents(obj["metadata"]["uid"])
            self._remove(rt, obj)
            return 200, st.success_status(name, rt.group, rt.plural, obj["metadata"]["uid"])

    def _remove(self, rt: ResourceType, obj: dict) -> dict:
        """Remove an object for good, then what depends on it (owner GC, namespace, CRD cleanup)."""
        meta = obj["metadata"]
        gone = self.store.remove(rt.group_resource, meta.get("namespace", ""), meta["name"])
        if gone is None:
            return obj
        if rt.group == "apiextensions.k8s.io" and rt.kind == "CustomResourceDefinition":
            self._drop_crd(gone)
        self._delete_dependents(meta["uid"])
        ns = meta.get("namespace")
        if ns:
            self._maybe_finish_namespace(ns)
        return gone

    def _drop_crd(self, crd: dict) -> None:
        group, plural = crd["spec"]["group"], crd["spec"]["names"]["plural"]
        for ns, name in self.store.keys((group, plural)):
            self.store.remove((group, plural), ns, name)
        self.registry.remove_crd(crd["metadata"]["name"])

    def _dependents(self, owner_uid: str):
        for gr, ns, name in self.store.owned_by(owner_uid):
            rts = self.registry.versions_of(*gr)
            obj = self.store.get(gr, ns, name)
            if rts and obj is not None:
                yield rts[0], obj

    def _delete_dependents(self, owner_uid: str) -> None:
        """Background garbage collection: objects whose owners are all gone are deleted."""
        for rt, obj in list(self._dependents(owner_uid)):
            refs = obj["metadata"].get("ownerReferences") or []
            remaining = [
                r
                for r in refs
                if r.get("uid") != owner_uid and self._uid_exists(r, obj["metadata"].get("namespace", ""))
            ]
            if remaining:
                obj["metadata"]["ownerReferences"] = remaining
                self.store.put(rt.group_resource, obj)
                continue
            try:
                self.delete(rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"], {})
            except st.APIError:
                pass

    def _owner_state(self, ref: dict, namespace: str) -> str:
        """``solid``, ``dangling`` (no such owner: absent, or another uid) or ``unknown`` (kind not served).

        Owners are looked up as the garbage collector does: by kind and name, in the
        dependent's namespace when the owner's kind is namespaced, then compared by uid."""
        api_version = ref.get("apiVersion", "") if isinstance(ref, dict) else ""
        group = api_version.rpartition("/")[0] if "/" in api_version else ""
        rts = self.registry.by_kind(group, ref.get("kind", "")) if isinstance(ref, dict) else []
        if not rts:
            return "unknown"
        rt = rts[0]
        if rt.namespaced and not namespace:
            return "unknown"  # a cluster-scoped dependent cannot resolve a namespaced owner (never collected)
        owner = self.store.peek(rt.group_resource, namespace if rt.namespaced else "", str(ref.get("name", "")))
        return "solid" if owner and owner["metadata"]["uid"] == ref.get("uid") else "dangling"

    def _uid_exists(self, ref: dict, namespace: str = "") -> bool:
        return self._owner_state(ref, namespace) != "dangling"

    def _collect_if_dangling(self, rt: ResourceType, obj: dict) -> None:
        """The garbage collector's pass over a dependent (done at once here, shortly after on a real cluster).

        Every owner gone: the dependent is deleted (Background, or Orphan/Foreground when it
        carries that finalizer). Some owners gone: only their references are removed."""
        meta = obj["metadata"]
        refs = meta.get("ownerReferences") or []
        if not refs or meta.get("deletionTimestamp"):
            return
        namespace = meta.get("namespace", "")
        states = [self._owner_state(ref, namespace) for ref in refs]
        if "dangling" not in states:
            return
        if "solid" in states or "unknown" in states:
            current = self.store.get(rt.group_resource, namespace, meta["name"])
            if current is None:
                return
            current["metadata"]["ownerReferences"] = [r for r, state in zip(refs, states) if state != "dangling"]
            self.store.put(rt.group_resource, current)
            return
        finalizers = meta.get("finalizers") or []
        policy = (
            "Orphan" if "orphan" in finalizers else "Foreground" if "foregroundDeletion" in finalizers else "Background"
        )
        try:
            self.delete(rt, namespace, meta["name"], {"propagationPolicy": policy})
        except st.APIError:
            pass

    def _orphan_dependents(self, owner_uid: str) -> None:
        for rt, obj in list(self._dependents(owner_uid)):
            obj["metadata"]["ownerReferences"] = [
                r for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid
            ]
            if not obj["metadata"]["ownerReferences"]:
                del obj["metadata"]["ownerReferences"]
            self.store.put(rt.group_resource, obj)

    def _delete_namespace(self, ns_obj: dict) -> dict:
        """Mark Terminating, delete the content; the namespace goes once nothing is left in it."""
        meta = ns_obj["metadata"]
        if not meta.get("deletionTimestamp"):
            meta["deletionTimestamp"] = now_rfc3339(self.clock)
            meta["deletionGracePeriodSeconds"] = 0
            ns_obj["status"] = {"phase": "Terminating"}
            ns_obj = self.store.put(("", "namespaces"), ns_obj)
        name = meta["name"]
        for gr in self.store.group_resources():
            rts = self.registry.versions_of(*gr)
            if not rts or not rts[0].namespaced:
                continue
            for ns, obj_name in self.store.keys(gr):
                if ns == name:
                    try:
                        self.delete(rts[0], ns, obj_name, {})
                    except st.APIError:
                        pass
        return self._maybe_finish_namespace(name) or ns_obj

    def _maybe_finish_namespace(self, name: str) -> dict | None:
        ns_obj = self.store.get(("", "namespaces"), "", name)
        if ns_obj is None or not ns_obj["metadata"].get("deletionTimestamp"):
            return None
        for gr in self.store.group_resources():
            rts = self.registry.versions_of(*gr)
            if rts and rts[0].namespaced and any(ns == name for ns, _ in self.store.keys(gr)):
                return None
        if ns_obj["metadata"].get("finalizers") or (ns_obj.get("spec") or {}).get("finalizers") not in (
            None,
            [],
            ["kubernetes"],
        ):
            return None
        return self.store.remove(("", "namespaces"), "", name)

    def finalize_namespace(self, name: str, body: dict) -> dict:
        """PUT .../namespaces/NAME/finalize: only ``spec.finalizers`` changes; an empty list lets it go."""
        with self.store.lock:
            ns_obj = self.store.get(("", "namespaces"), "", name)
            if ns_obj is None:
                raise st.not_found("", "namespaces", name)
            finalizers = ((body.get("spec") or {}).get("finalizers")) or []
            ns_obj.setdefault("spec", {})["finalizers"] = finalizers
            if not finalizers:
                del ns_obj["spec"]["finalizers"]
            ns_obj = self.store.put(("", "namespaces"), ns_obj)
            gone = self._maybe_finish_namespace(name)
            return self._out(self.ns_rt, gone or ns_obj)

    def delete_collection(
        self, rt: ResourceType, namespace: str | None, label_selector, field_selector, options: dict, dry_run: bool
    ) -> dict:
        items, _ = self.list(rt, namespace, label_selector, field_selector)
        deleted = []
        for obj in items:
            try:
                _, body = self.delete(
                    rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"], options, dry_run
                )
            except st.APIError:
                continue
            deleted.append(obj if body.get("kind") == "Status" else body)
        return {
            "kind": f"{rt.kind}List",
            "apiVersion": rt.api_version,
            "metadata": {"resourceVersion": str(self.store.rv)},
            "items": deleted,
        }


def _first_bad_base64_byte(text: str) -> int:
    """The offset Go's ``illegal base64 data at input byte N`` reports (first byte outside the alphabet or padding)."""
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    for i, ch in enumerate(text):
        if ch == "=":
            return i if (len(text) % 4 != 0) else len(text) - 1 if i < len(text) - 2 else i
        if ch not in alphabet:
            return i
    return max(0, (len(text) // 4) * 4)


def dumps(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()
