"""Optional state for the emulator: a SQLite file that keeps objects across restarts.

``APIServer(state_file=...)`` (``secretsync dev-apiserver --state FILE``) loads
every object and the resourceVersion counter at start and writes each change
through (one row per object, autocommit), so the demo can stop and resume. Watch
history is not kept: after a restart a watch from an older resourceVersion gets
410, as after an etcd compaction.

The admin token and the service-account token signing key are kept too (so
kubeconfigs and issued tokens stay valid), sealed with the same key.

Secrets are encrypted at rest, like the API server with an
EncryptionConfiguration ``aesgcm`` provider: the row holds
``k8s:enc:aesgcm:v1:emulator:`` + nonce + AES-256-GCM ciphertext of the object,
with the namespace/name as associated data. The key comes from
``SECRETSYNC_EMULATOR_STATE_KEY`` (base64, 32 bytes) or from ``FILE.key``
(created 0600 on first use), never from the state file itself.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import threading
from pathlib import Path

__all__ = ["Persistence", "StateError"]

PREFIX = b"k8s:enc:aesgcm:v1:emulator:"
KEY_ENV = "SECRETSYNC_EMULATOR_STATE_KEY"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    grp TEXT NOT NULL, resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    body BLOB NOT NULL, PRIMARY KEY (grp, resource, namespace, name));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class StateError(Exception):
    """The state file cannot be used (wrong key, corrupt rows)."""


class Persistence:
    """Write-through SQLite storage for one server's Store."""

    def __init__(self, path: str | os.PathLike, app, env=os.environ) -> None:
        self.path = Path(path)
        self.app = app
        self._lock = threading.Lock()
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # private from the start
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.executescript(_SCHEMA)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._aead = self._cipher(env)

    def _cipher(self, env):
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        text = env.get(KEY_ENV)
        if text:
            key = base64.b64decode(text)
        else:
            key_path = self.path.with_name(self.path.name + ".key")
            if key_path.exists():
                key = base64.b64decode(key_path.read_text().strip())
            else:
                key = AESGCM.generate_key(bit_length=256)
                fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(base64.b64encode(key).decode() + "\n")
        if len(key) != 32:
            raise StateError(f"{KEY_ENV} or the .key file must hold 32 bytes of base64")
        return AESGCM(key)

    # --- encoding ---
    def _encode(self, gr, obj: dict) -> bytes:
        data = json.dumps(obj, separators=(",", ":")).encode()
        if gr == ("", "secrets"):
            meta = obj["metadata"]
            nonce = os.urandom(12)
            aad = f"{meta.get('namespace', '')}/{meta['name']}".encode()
            return PREFIX + nonce + self._aead.encrypt(nonce, data, aad)
        return data

    def _decode(self, gr, namespace: str, name: str, body: bytes) -> dict:
        if body.startswith(PREFIX):
            from cryptography.exceptions import InvalidTag

            nonce, sealed = body[len(PREFIX) : len(PREFIX) + 12], body[len(PREFIX) + 12 :]
            try:
                body = self._aead.decrypt(nonce, sealed, f"{namespace}/{name}".encode())
            except InvalidTag:
                raise StateError(
                    f"cannot decrypt Secret {namespace}/{name} in {self.path}: wrong key "
                    f"({KEY_ENV} or {self.path.name}.key)"
                ) from None
        return json.loads(body)

    # --- load and write-through ---
    def load(self) -> None:
        store = self.app.store
        rows = self._db.execute("SELECT grp, resource, namespace, name, body FROM objects").fetchall()
        crds = []
        for grp, resource, namespace, name, body in rows:
            obj = self._decode((grp, resource), namespace, name, bytes(body))
            store.load((grp, resource), obj)
            if (grp, resource) == ("apiextensions.k8s.io", "customresourcedefinitions"):
                crds.append(obj)
        row = self._db.execute("SELECT value FROM meta WHERE key='rv'").fetchone()
        if row:
            store.rv = max(store.rv, int(row[0]))
            store.load_done()
        for crd in crds:
            self.app.registry.set_crd(crd)
        self._load_credentials()
        store.listeners.append(self._on_change)

    def _load_credentials(self) -> None:
        """Keep the admin token and the token-signing key across restarts (both sealed like Secrets)."""
        auth = self.app.auth
        rows = dict(self._db.execute("SELECT key, value FROM meta WHERE key IN ('admin', 'signing')").fetchall())
        if "admin" in rows and not self.app.admin_token_given:
            auth.set_admin_token(self._open_meta("admin", rows["admin"]).decode())
        else:
            self._seal_meta("admin", self.app.admin_token.encode())
        if "signing" in rows:
            auth.import_signing_key(self._open_meta("signing", rows["signing"]))
        auth.key_listeners.append(lambda key: self._seal_meta("signing", auth.key_der(key)))

    def _seal_meta(self, name: str, value: bytes) -> None:
        nonce = os.urandom(12)
        sealed = base64.b64encode(nonce + self._aead.encrypt(nonce, value, f"meta/{name}".encode())).decode()
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, sealed))

    def _open_meta(self, name: str, text: str) -> bytes:
        from cryptography.exceptions import InvalidTag

        raw = base64.b64decode(text)
        try:
            return self._aead.decrypt(raw[:12], raw[12:], f"meta/{name}".encode())
        except InvalidTag:
            raise StateError(f"cannot decrypt the {name} credential in {self.path}: wrong key") from None

    def _on_change(self, event) -> None:
        meta = event.object["metadata"]
        key = (event.group_resource[0], event.group_resource[1], meta.get("namespace", ""), meta["name"])
        with self._lock:
            if event.type == "DELETED":
                self._db.execute("DELETE FROM objects WHERE grp=? AND resource=? AND namespace=? AND name=?", key)
            else:
                self._db.execute(
                    "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?)",
                    (*key, self._encode(event.group_resource, event.object)),
                )
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('rv', ?)", (str(event.rv),))

    def close(self) -> None:
        with self._lock:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
