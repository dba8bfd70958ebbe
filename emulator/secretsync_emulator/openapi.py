"""OpenAPI v3 documents, as far as kubectl reads them.

kubectl fetches ``/openapi/v3`` (a map of group-versions to document URLs with a
content hash) and then one document per group-version. It uses them to learn
that the server does field validation (a ``fieldValidation`` query parameter on
each resource's PATCH operation, tagged with ``x-kubernetes-group-version-kind``)
and, for custom resources, their schemas. Built-in kinds get no component
schemas: kubectl then falls back to its compiled-in types for strategic merge.
``/openapi/v2`` is served empty (server.py): kubectl then skips client-side schema
checks for kinds it cannot find there, as it does with a real server's document.
"""

from __future__ import annotations

import hashlib
import json

from secretsync_emulator.registry import Registry, ResourceType

__all__ = ["v3_root", "v3_document", "gv_path"]

_COMMON_PARAMS = ["dryRun", "fieldManager", "fieldValidation", "force", "pretty"]


def gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _definition_name(rt: ResourceType) -> str:
    if rt.crd:
        reversed_group = ".".join(reversed(rt.group.split(".")))
        return f"{reversed_group}.{rt.version}.{rt.kind}"
    group = rt.group.split(".")[0] if rt.group else "core"
    return f"io.k8s.api.{group}.{rt.version}.{rt.kind}"


def v3_document(registry: Registry, group: str, version: str) -> dict | None:
    types = [rt for rt in registry.all() if rt.group == group and rt.version == version]
    if not types:
        return None
    prefix = "/" + gv_path(group, version)
    paths: dict = {}
    schemas: dict = {}
    for rt in types:
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        has_schema = bool(rt.crd and rt.schema)
        ref = {"$ref": f"#/components/schemas/{_definition_name(rt)}"} if has_schema else {"type": "object"}
        body = {"content": {"application/json": {"schema": ref}}}
        responses = {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}}
        params = [{"name": p, "in": "query", "schema": {"type": "string"}, "uniqueItems": True} for p in _COMMON_PARAMS]
        item = {}
        for verb, action in (("get", "get"), ("put", "put"), ("patch", "patch"), ("delete", "delete")):
            op = {
                "operationId": f"{action}{rt.kind}",
                "responses": responses,
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk,
            }
            if verb in ("put", "patch"):
                op["parameters"] = params
                op["requestBody"] = body
            item[verb] = op
        collection = {
            "post": {
                "operationId": f"create{rt.kind}",
                "parameters": params,
                "requestBody": body,
                "responses": responses,
                "x-kubernetes-action": "post",
                "x-kubernetes-group-version-kind": gvk,
            },
            "get": {
                "operationId": f"list{rt.kind}",
                "responses": {"200": {"description": "OK"}},
                "x-kubernetes-action": "list",
                "x-kubernetes-group-version-kind": gvk,
            },
        }
        base = f"{prefix}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{prefix}/{rt.plural}"
        paths[base] = collection
        paths[base + "/{name}"] = item
        if rt.status:
            paths[base + "/{name}/status"] = item
        if has_schema:
            schema = json.loads(json.dumps(rt.schema))
            schema["x-kubernetes-group-version-kind"] = [gvk]
            schemas[_definition_name(rt)] = schema
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _hash(doc: dict) -> str:
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest().upper()


def v3_root(registry: Registry) -> dict:
    paths = {}
    for group, versions in registry.groups().items():
        for version in versions:
            doc = v3_document(registry, group, version)
            key = gv_path(group, version)
            paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={_hash(doc)}"}
    return {"paths": paths}
