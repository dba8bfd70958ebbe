"""Decoding of the Kubernetes protobuf request bodies kubectl's typed clients send.

``kubectl create secret|configmap|namespace|serviceaccount|token|role|rolebinding|
clusterrole|clusterrolebinding`` and ``kubectl auth can-i [--list]`` post
``application/vnd.kubernetes.protobuf`` (client-go's typed clients), and
client-go does not fall back to JSON on a 415. This module reads the
envelope (``k8s\\x00`` + ``runtime.Unknown``) and the protobuf wire format of
exactly those kinds into the JSON object the API would have received, using
the field numbers of k8s.io/api's ``generated.proto``. Answers stay JSON (the
clients also accept it). Other kinds get 415.
"""

from __future__ import annotations

import base64

__all__ = ["decode", "ProtobufError", "SUPPORTED"]

MAGIC = b"k8s\x00"


class ProtobufError(ValueError):
    """The body is not a protobuf message of a kind we can read."""


# Field tables: number -> (json name, type[, sub-table]). Types: str, bytes, int, bool, msg, rep_str, rep_msg,
# map_str (map<string,string>), map_bytes (map<string,bytes> -> base64 text), time (meta/v1 Time).
_OWNER_REF = {
    1: ("kind", "str"),
    3: ("name", "str"),
    4: ("uid", "str"),
    5: ("apiVersion", "str"),
    6: ("controller", "bool"),
    7: ("blockOwnerDeletion", "bool"),
}
_META = {
    1: ("name", "str"),
    2: ("generateName", "str"),
    3: ("namespace", "str"),
    5: ("uid", "str"),
    6: ("resourceVersion", "str"),
    7: ("generation", "int"),
    11: ("labels", "map_str"),
    12: ("annotations", "map_str"),
    13: ("ownerReferences", "rep_msg", _OWNER_REF),
    14: ("finalizers", "rep_str"),
}
_OBJ_REF = {
    1: ("kind", "str"),
    2: ("namespace", "str"),
    3: ("name", "str"),
    4: ("uid", "str"),
    5: ("apiVersion", "str"),
}
_LOCAL_REF = {1: ("name", "str")}
_RULE = {
    1: ("verbs", "rep_str"),
    2: ("apiGroups", "rep_str"),
    3: ("resources", "rep_str"),
    4: ("resourceNames", "rep_str"),
    5: ("nonResourceURLs", "rep_str"),
}
_SUBJECT = {1: ("kind", "str"), 2: ("apiGroup", "str"), 3: ("name", "str"), 4: ("namespace", "str")}
_ROLE_REF = {1: ("apiGroup", "str"), 2: ("kind", "str"), 3: ("name", "str")}
_RESOURCE_ATTRS = {
    1: ("namespace", "str"),
    2: ("verb", "str"),
    3: ("group", "str"),
    4: ("version", "str"),
    5: ("resource", "str"),
    6: ("subresource", "str"),
    7: ("name", "str"),
}
_NON_RESOURCE_ATTRS = {1: ("path", "str"), 2: ("verb", "str")}

KINDS = {
    "Secret": {
        1: ("metadata", "msg", _META),
        2: ("data", "map_bytes"),
        3: ("type", "str"),
        4: ("stringData", "map_str"),
        5: ("immutable", "bool"),
    },
    "ConfigMap": {
        1: ("metadata", "msg", _META),
        2: ("data", "map_str"),
        3: ("binaryData", "map_bytes"),
        4: ("immutable", "bool"),
    },
    "Namespace": {1: ("metadata", "msg", _META), 2: ("spec", "msg", {1: ("finalizers", "rep_str")})},
    "ServiceAccount": {
        1: ("metadata", "msg", _META),
        2: ("secrets", "rep_msg", _OBJ_REF),
        3: ("imagePullSecrets", "rep_msg", _LOCAL_REF),
        4: ("automountServiceAccountToken", "bool"),
    },
    "TokenRequest": {
        1: ("metadata", "msg", _META),
        2: (
            "spec",
            "msg",
            {
                1: ("audiences", "rep_str"),
                4: ("expirationSeconds", "int"),
                3: (
                    "boundObjectRef",
                    "msg",
                    {1: ("kind", "str"), 2: ("apiVersion", "str"), 3: ("name", "str"), 4: ("uid", "str")},
                ),
            },
        ),
    },
    "SelfSubjectAccessReview": {
        1: ("metadata", "msg", _META),
        2: (
            "spec",
            "msg",
            {
                1: ("resourceAttributes", "msg", _RESOURCE_ATTRS),
                2: ("nonResourceAttributes", "msg", _NON_RESOURCE_ATTRS),
            },
        ),
    },
    "SelfSubjectRulesReview": {1: ("metadata", "msg", _META), 2: ("spec", "msg", {1: ("namespace", "str")})},
    "Role": {1: ("metadata", "msg", _META), 2: ("rules", "rep_msg", _RULE)},
    "ClusterRole": {1: ("metadata", "msg", _META), 2: ("rules", "rep_msg", _RULE)},
    "RoleBinding": {
        1: ("metadata", "msg", _META),
        2: ("subjects", "rep_msg", _SUBJECT),
        3: ("roleRef", "msg", _ROLE_REF),
    },
    "ClusterRoleBinding": {
        1: ("metadata", "msg", _META),
        2: ("subjects", "rep_msg", _SUBJECT),
        3: ("roleRef", "msg", _ROLE_REF),
    },
}
SUPPORTED = frozenset(KINDS)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes):
    """(field number, wire type, value) for each field; length-delimited values are bytes."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ProtobufError("truncated field")
            value, pos = data[pos : pos + length], pos + length
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        yield number, wire, value


def _text(value) -> str:
    if not isinstance(value, bytes):
        raise ProtobufError("expected a string")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtobufError("string field is not UTF-8") from None


def _message(data: bytes, table: dict) -> dict:
    out: dict = {}
    for number, wire, value in _fields(data):
        spec = table.get(number)
        if spec is None:
            continue
        name, kind = spec[0], spec[1]
        # gogo-protobuf writes empty strings and zero integers of non-pointer fields; JSON omits them.
        if kind == "str":
            if value:
                out[name] = _text(value)
        elif kind == "int":
            if wire != 0:
                raise ProtobufError(f"{name}: expected an integer")
            if value:
                out[name] = value - (1 << 64) if value >= 1 << 63 else value
        elif kind == "bool":
            out[name] = bool(value)
        elif kind == "msg":
            out[name] = _message(value, spec[2])
        elif kind == "rep_str":
            out.setdefault(name, []).append(_text(value))
        elif kind == "rep_msg":
            out.setdefault(name, []).append(_message(value, spec[2]))
        elif kind in ("map_str", "map_bytes"):
            entry = {n: v for n, _w, v in _fields(value)}
            key = _text(entry.get(1, b""))
            raw = entry.get(2, b"")
            out.setdefault(name, {})[key] = base64.b64encode(raw).decode("ascii") if kind == "map_bytes" else _text(raw)
    return out


def decode(body: bytes) -> dict:
    """A protobuf-encoded request body as the equivalent JSON object."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf envelope")
    unknown = {n: v for n, _w, v in _fields(body[len(MAGIC) :])}
    type_meta = {n: v for n, _w, v in _fields(unknown.get(1, b""))}
    api_version, kind = _text(type_meta.get(1, b"")), _text(type_meta.get(2, b""))
    table = KINDS.get(kind)
    if table is None:
        raise ProtobufError(f"protobuf bodies of kind {kind or '(none)'} are not supported")
    obj = _message(unknown.get(2, b""), table)
    obj["apiVersion"], obj["kind"] = api_version, kind
    obj.setdefault("metadata", {})
    return obj
