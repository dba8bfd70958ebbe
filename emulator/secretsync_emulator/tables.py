"""Server-side printing: ``meta.k8s.io/v1 Table`` answers for ``kubectl get``.

kubectl asks for ``application/json;as=Table;v=v1;g=meta.k8s.io``; the server
answers with column definitions and one row per object (the object itself as
``PartialObjectMetadata`` unless ``includeObject=Object``). Columns follow the
real server's printers for the kinds we serve, and a CRD's
``additionalPrinterColumns`` (simple ``.a.b`` JSON paths) for custom resources.
"""

from __future__ import annotations

import calendar
import time

from secretsync_emulator.registry import ResourceType

__all__ = ["to_table", "wants_table", "human_age"]


def wants_table(accept: str) -> bool:
    return "as=Table" in (accept or "").replace(" ", "")


def human_age(created: str | None, now: float) -> str:
    """kubectl's ``duration.HumanDuration`` for the AGE column."""
    if not created:
        return "<unknown>"
    try:
        seconds = int(now - calendar.timegm(time.strptime(created, "%Y-%m-%dT%H:%M:%SZ")))
    except ValueError:
        return "<unknown>"
    if seconds < 0:
        return "<invalid>"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if days < 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y{days % 365}d" if days % 365 else f"{days // 365}y"


def _col(name: str, type_: str = "string", fmt: str = "", desc: str = "", priority: int = 0) -> dict:
    return {"name": name, "type": type_, "format": fmt, "description": desc or name, "priority": priority}


def _path(obj: dict, json_path: str):
    cur = obj
    for part in json_path.strip().lstrip(".").split("."):
        if not part:
            continue
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _columns(rt: ResourceType) -> list[tuple[dict, object]]:
    """(column definition, cell function(obj, now)) for a resource type."""
    name = (_col("Name", fmt="name"), lambda o, now: o["metadata"]["name"])
    age = (_col("Age"), lambda o, now: human_age(o["metadata"].get("creationTimestamp"), now))
    key = (rt.group, rt.kind)
    if key == ("", "Secret"):
        return [
            name,
            (_col("Type"), lambda o, now: o.get("type", "")),
            (_col("Data", "integer"), lambda o, now: len(o.get("data") or {})),
            age,
        ]
    if key == ("", "ConfigMap"):
        return [
            name,
            (_col("Data", "integer"), lambda o, now: len(o.get("data") or {}) + len(o.get("binaryData") or {})),
            age,
        ]
    if key == ("", "Namespace"):
        return [name, (_col("Status"), lambda o, now: (o.get("status") or {}).get("phase", "")), age]
    if key == ("apps", "Deployment"):
        return [
            name,
            (
                _col("Ready"),
                lambda o, now: (
                    f"{(o.get('status') or {}).get('readyReplicas', 0)}/{(o.get('spec') or {}).get('replicas', 1)}"
                ),
            ),
            (_col("Up-to-date", "integer"), lambda o, now: (o.get("status") or {}).get("updatedReplicas", 0)),
            (_col("Available", "integer"), lambda o, now: (o.get("status") or {}).get("availableReplicas", 0)),
            age,
        ]
    if key == ("", "ServiceAccount"):
        return [name, (_col("Secrets", "integer"), lambda o, now: len(o.get("secrets") or [])), age]
    if key == ("", "Service"):

        def ports(o, now):
            return (
                ",".join(
                    f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in (o.get("spec") or {}).get("ports") or []
                )
                or "<none>"
            )

        return [
            name,
            (_col("Type"), lambda o, now: (o.get("spec") or {}).get("type", "ClusterIP")),
            (_col("Cluster-IP"), lambda o, now: (o.get("spec") or {}).get("clusterIP", "<none>")),
            (_col("External-IP"), lambda o, now: "<none>"),
            (_col("Port(s)"), ports),
            age,
        ]
    if key == ("coordination.k8s.io", "Lease"):
        return [name, (_col("Holder"), lambda o, now: (o.get("spec") or {}).get("holderIdentity", "")), age]
    if key in (("", "Event"), ("events.k8s.io", "Event")):
        core = rt.group == ""

        def last_seen(o, now):
            when = (
                (o.get("lastTimestamp") or o.get("eventTime") or o["metadata"].get("creationTimestamp"))
                if core
                else (o.get("deprecatedLastTimestamp") or o.get("eventTime"))
            )
            return human_age((when or "")[:19] + "Z" if when else None, now)

        def obj_ref(o, now):
            ref = (o.get("involvedObject") if core else o.get("regarding")) or {}
            return f"{(ref.get('kind') or '').lower()}/{ref.get('name', '')}"

        return [
            (_col("Last Seen"), last_seen),
            (_col("Type"), lambda o, now: o.get("type", "")),
            (_col("Reason"), lambda o, now: o.get("reason", "")),
            (_col("Object"), obj_ref),
            (_col("Message"), lambda o, now: o.get("message" if core else "note", "")),
        ]
    if key == ("rbac.authorization.k8s.io", "RoleBinding") or key == (
        "rbac.authorization.k8s.io",
        "ClusterRoleBinding",
    ):
        return [
            name,
            (
                _col("Role"),
                lambda o, now: f"{(o.get('roleRef') or {}).get('kind', '')}/{(o.get('roleRef') or {}).get('name', '')}",
            ),
            age,
        ]
    if rt.group == "rbac.authorization.k8s.io":
        return [name, (_col("Created At", fmt="date"), lambda o, now: o["metadata"].get("creationTimestamp"))]
    if key == ("apiextensions.k8s.io", "CustomResourceDefinition"):
        return [name, (_col("Created At", fmt="date"), lambda o, now: o["metadata"].get("creationTimestamp"))]
    if rt.crd and rt.printer_columns:
        cols = [name]
        for pc in rt.printer_columns:
            path = pc.get("jsonPath", "")
            if path == ".metadata.creationTimestamp" and pc.get("type") == "date":
                cols.append(
                    (
                        _col(pc.get("name", ""), "date", priority=pc.get("priority", 0)),
                        lambda o, now: human_age(o["metadata"].get("creationTimestamp"), now),
                    )
                )
                continue
            cols.append(
                (
                    _col(
                        pc.get("name", ""),
                        pc.get("type", "string"),
                        pc.get("format", ""),
                        pc.get("description", ""),
                        pc.get("priority", 0),
                    ),
                    lambda o, now, p=path: _path(o, p),
                )
            )
        if not any(pc.get("jsonPath") == ".metadata.creationTimestamp" for pc in rt.printer_columns):
            cols.append(age)
        return cols
    return [name, age]


def to_table(rt: ResourceType, objects: list[dict], list_meta: dict, include: str, now: float) -> dict:
    cols = _columns(rt)
    rows = []
    for obj in objects:
        if include == "None":
            ref = None
        elif include == "Object":
            ref = obj
        else:
            ref = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}
        row = {"cells": [fn(obj, now) for _, fn in cols]}
        if ref is not None:
            row["object"] = ref
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": [c for c, _ in cols],
        "rows": rows,
    }
