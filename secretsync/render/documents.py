"""Documents: every Kubernetes object in a source tree, with the file and index it came from.

Walk rules (like Flux's generated kustomization):
- a folder holding ``kustomization.yaml`` (``.yml``, ``Kustomization``) is built with
  ``kubectl kustomize``; remote bases are refused, every local path it names must stay inside
  the source root;
- otherwise ``*.yaml``, ``*.yml``, ``*.json`` files (multi-document) are read, folders recursed,
  in sorted name order; dotfiles and dot-folders (``.sops.yaml``, ``.git``) and other files are skipped;
- a symlink whose target leaves the source root is refused, naming the link.

Objects still encrypted by sops are kept as they are, together with the raw bytes of the
sops file they came from (``Document.sops``), so the MAC can be checked on the original file
even after kustomize rewrote the object; ``sops_overlay`` puts decrypted values back in place.
This module never decrypts anything.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from secretsync.manifests.loader import Limits, ManifestError, copy_tree, expand_lists, load_manifests

__all__ = ["Document", "SopsSource", "Collected", "collect", "sops_overlay", "KUSTOMIZATION_FILES", "is_sops_object"]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
_ENC_PREFIX = "ENC["


@dataclass(frozen=True)
class SopsSource:
    """The sops file a still-encrypted object comes from: its path, raw bytes and document index."""

    file: str
    data: bytes = field(repr=False)
    doc_index: int


@dataclass
class Document:
    """One object: ``file`` relative to the source root, ``index`` of the document in that file
    (for a kustomize build: in the build output, ``file`` being the kustomization)."""

    file: str
    index: int
    object: dict[str, Any]
    sops: SopsSource | None = None


@dataclass
class Collected:
    """What a walk found: documents, and errors (each naming file and document index)."""

    documents: list[Document]
    errors: list[ManifestError]


def is_sops_object(value: Any) -> bool:
    """A mapping carrying sops metadata with a MAC (a whole-object sops document)."""
    return isinstance(value, dict) and isinstance(value.get("sops"), dict) and bool(value["sops"].get("mac"))


class _Walker:
    def __init__(self, root: Path, limits: Limits, kubectl: str, timeout: float) -> None:
        self.root = root.resolve()
        self.limits = limits
        self.kubectl = kubectl
        self.timeout = timeout
        self.documents: list[Document] = []
        self.errors: list[ManifestError] = []
        self._sops_index: dict[str, list[tuple[SopsSource, dict[str, Any]]]] | None = None
        self._visited: set[Path] = set()

    # -- paths -------------------------------------------------------------------------------
    def rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix() or "."
        except ValueError:
            return str(path)

    def confined(self, path: Path, named: Path | None = None) -> Path:
        """``path`` with symlinks resolved; refuses it (naming ``named`` or the path) if it leaves the root."""
        real = path.resolve()
        if real != self.root and self.root not in real.parents:
            shown = self.rel(named or path)
            what = "symlink" if (named or path).is_symlink() else "path"
            raise ManifestError(
                f"{what} leads outside the source root",
                file=shown,
                hint="keep every manifest inside the repository; symlinks may only point inside it",
            )
        return real

    # -- walking -----------------------------------------------------------------------------
    def walk(self, directory: Path) -> None:
        real = self.confined(directory)
        if real in self._visited:
            return
        self._visited.add(real)
        for name in KUSTOMIZATION_FILES:
            if (directory / name).is_file():
                self.kustomize(directory, directory / name)
                return
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                if entry.is_symlink():
                    self.confined(path, named=path)
                if path.is_dir():
                    self.walk(path)
                elif entry.name.endswith(_MANIFEST_SUFFIXES):
                    self.load_file(path)
            except ManifestError as exc:
                self.errors.append(exc)

    def read(self, path: Path) -> bytes:
        rel = self.rel(path)
        if not path.is_file():
            raise ManifestError("not a regular file", file=rel)
        size = path.stat().st_size
        if size > self.limits.max_bytes:
            raise ManifestError(
                f"file is {size} bytes, more than the limit of {self.limits.max_bytes}",
                file=rel,
                hint="split the file, or raise the manifest size limit",
            )
        return path.read_bytes()

    def load_file(self, path: Path) -> None:
        rel = self.rel(path)
        data = self.read(path)
        for index, value in load_manifests(data, rel, self.limits):
            if is_sops_object(value):
                self.documents.append(Document(rel, index, value, SopsSource(rel, data, index)))
                continue
            for item in expand_lists(value):
                self.documents.append(Document(rel, index, item))

    # -- kustomize ---------------------------------------------------------------------------
    def kustomize(self, directory: Path, kfile: Path) -> None:
        rel = self.rel(kfile)
        try:
            self.check_kustomization(directory, set())
        except ManifestError as exc:
            self.errors.append(exc)
            return
        with tempfile.TemporaryDirectory(prefix="secretsync-kustomize-") as home:
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": home,
                "LANG": "C.UTF-8",
                "KUBECONFIG": os.devnull,
                "GIT_TERMINAL_PROMPT": "0",
                "GIT_CONFIG_NOSYSTEM": "1",
            }
            try:
                proc = subprocess.run(
                    [self.kubectl, "kustomize", str(directory)],
                    cwd=directory,
                    env=env,
                    capture_output=True,
                    timeout=self.timeout,
                    check=False,
                )
            except FileNotFoundError:
                self.errors.append(
                    ManifestError(
                        f"cannot build: {self.kubectl!r} not found",
                        file=rel,
                        hint="install kubectl (it includes kustomize)",
                    )
                )
                return
            except subprocess.TimeoutExpired:
                self.errors.append(ManifestError(f"kubectl kustomize took longer than {self.timeout:g}s", file=rel))
                return
        if proc.returncode != 0:
            # kustomize errors name files and fields; clip them so a huge echo cannot flood the log.
            message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            reason = message[-1] if message else f"exit code {proc.returncode}"
            if 'err="' in reason:  # klog form: ... "command failed" err="<the reason>"
                reason = reason.split('err="', 1)[1].rstrip('"')
            reason = reason[:400]
            self.errors.append(ManifestError(f"kubectl kustomize failed: {reason}", file=rel))
            return
        out_limits = Limits(
            max_bytes=self.limits.max_bytes * 8, max_depth=self.limits.max_depth, max_nodes=self.limits.max_nodes
        )
        try:
            docs = load_manifests(proc.stdout, rel, out_limits)
        except ManifestError as exc:
            self.errors.append(exc)
            return
        for index, value in docs:
            if is_sops_object(value):
                try:
                    source = self.find_sops_source(value, rel, index)
                except ManifestError as exc:
                    self.errors.append(exc)
                    continue
                self.documents.append(Document(rel, index, value, source))
            else:
                self.documents.append(Document(rel, index, value))

    def check_kustomization(self, directory: Path, seen: set[Path]) -> None:
        """Refuse remote bases and local paths leaving the root, in this kustomization and its bases."""
        real = self.confined(directory)
        if real in seen:
            return
        seen.add(real)
        kfile = next((directory / n for n in KUSTOMIZATION_FILES if (directory / n).is_file()), None)
        if kfile is None:
            return
        rel = self.rel(kfile)
        self.confined(kfile, named=kfile)
        spec = load_manifests(self.read(kfile), rel, self.limits)
        spec_obj = spec[0][1] if spec else {}
        if not isinstance(spec_obj, dict):
            raise ManifestError("a kustomization must be a mapping", file=rel, index=0)
        for entry in _kustomization_paths(spec_obj):
            if _is_remote(entry):
                raise ManifestError(
                    f"remote base {entry!r} is not allowed",
                    file=rel,
                    hint="vendor the base into the repository; renders never reach the network",
                )
            target = directory / entry
            if target.is_symlink() or os.path.lexists(target):
                real_target = self.confined(target, named=target)
            else:
                real_target = self.confined(target)
            if real_target.is_dir():
                self.check_kustomization(Path(real_target), seen)

    def find_sops_source(self, value: dict[str, Any], file: str, index: int) -> SopsSource:
        """The sops file (and document) a kustomize-built object was made from, matched by MAC and values."""
        if self._sops_index is None:
            self._sops_index = {}
            for path in self.manifest_files(self.root):
                try:
                    data = self.read(path)
                    if b"sops" not in data:
                        continue
                    docs = load_manifests(data, self.rel(path), self.limits)
                except ManifestError:
                    continue  # reported if the walk reaches it; here only a candidate
                for doc_index, doc in docs:
                    if is_sops_object(doc):
                        source = SopsSource(self.rel(path), data, doc_index)
                        self._sops_index.setdefault(str(doc["sops"]["mac"]), []).append((source, doc))
        wanted = dict(_encrypted_leaves(value))
        for source, doc in self._sops_index.get(str(value["sops"]["mac"]), []):
            have = dict(_encrypted_leaves(doc))
            if all(have.get(p) == v for p, v in wanted.items()):
                return source
        raise ManifestError(
            "a sops-encrypted object in the build output does not match any sops file in the source",
            file=file,
            index=index,
            hint="kustomize must not change encrypted values; keep sops files as plain resources of the "
            "kustomization (patches may only touch unencrypted fields)",
        )

    def manifest_files(self, directory: Path) -> Iterator[Path]:
        for dirpath, dirnames, filenames in os.walk(directory):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if not name.startswith(".") and name.endswith(_MANIFEST_SUFFIXES):
                    path = Path(dirpath, name)
                    if not path.is_symlink():
                        yield path


def _is_remote(entry: str) -> bool:
    return (
        "://" in entry or entry.startswith(("git@", "github.com/", "gitlab.com/", "bitbucket.org/")) or "?ref=" in entry
    )


def _kustomization_paths(spec: dict[str, Any]) -> Iterator[str]:
    """Local paths (files and folders) a kustomization refers to."""

    def strings(value: Any) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, str):
                    yield item

    for key in (
        "resources",
        "bases",
        "components",
        "crds",
        "patchesStrategicMerge",
        "transformers",
        "generators",
        "validators",
        "configurations",
    ):
        for entry in strings(spec.get(key)):
            if "\n" not in entry and entry.strip():
                yield entry.strip()
    for key in ("patches", "patchesJson6902", "replacements"):
        for item in spec.get(key) or []:
            if isinstance(item, dict) and isinstance(item.get("path"), str):
                yield item["path"]
    for key in ("configMapGenerator", "secretGenerator"):
        for gen in spec.get(key) or []:
            if not isinstance(gen, dict):
                continue
            for entry in (
                list(strings(gen.get("files"))) + list(strings(gen.get("envs"))) + list(strings(gen.get("env")))
            ):
                yield entry.split("=", 1)[1] if "=" in entry else entry
    openapi = spec.get("openapi")
    if isinstance(openapi, dict) and isinstance(openapi.get("path"), str):
        yield openapi["path"]
    helm = spec.get("helmGlobals")
    if isinstance(helm, dict) and isinstance(helm.get("chartHome"), str):
        yield helm["chartHome"]


def _encrypted_leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str]]:
    """(path, ENC[...] string) for every encrypted leaf outside the ``sops`` metadata."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not path and key == "sops":
                continue
            yield from _encrypted_leaves(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _encrypted_leaves(item, path + (i,))
    elif isinstance(value, str) and value.startswith(_ENC_PREFIX):
        yield path, value


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


def sops_overlay(
    encrypted: dict[str, Any], source_doc: dict[str, Any], decrypted: dict[str, Any], where: str
) -> dict[str, Any]:
    """``encrypted`` (possibly rewritten by kustomize) with each ENC[...] leaf replaced by its plaintext.

    ``source_doc`` is the document as encrypted in the sops file, ``decrypted`` the same document
    decrypted (MAC checked). A leaf whose ciphertext is not at the same path in the file is refused.
    The result has no ``sops`` key.
    """
    result: dict[str, Any] = copy_tree(encrypted)
    result.pop("sops", None)
    original = dict(_encrypted_leaves(source_doc))
    for path, cipher in _encrypted_leaves(result):
        if original.get(path) != cipher:
            raise ManifestError(
                f"{where}: encrypted value at {'.'.join(map(str, path))} does not match its sops file",
                hint="kustomize must not change encrypted values",
            )
        try:
            plain = _get(decrypted, path)
        except (KeyError, IndexError, TypeError):
            raise ManifestError(f"{where}: decrypted file has no value at {'.'.join(map(str, path))}") from None
        parent = _get(result, path[:-1])
        parent[path[-1]] = plain
    return result


def collect(
    root: Path, path: str = ".", *, limits: Limits = Limits(), kubectl: str = "kubectl", timeout: float = 90.0
) -> Collected:
    """Every object under ``root/path`` in stable order; errors are collected, not raised."""
    walker = _Walker(Path(root), limits, kubectl, timeout)
    sub = PurePosixPath(path or ".")
    if sub.is_absolute() or ".." in sub.parts:
        walker.errors.append(ManifestError("the path must be relative and stay inside the source", file=str(path)))
        return Collected([], walker.errors)
    start = walker.root / sub
    try:
        if not start.exists():
            raise ManifestError("path not found in the source", file=str(path))
        walker.confined(start, named=start)
        if start.is_file():
            walker.load_file(start)
        else:
            walker.walk(start)
    except ManifestError as exc:
        walker.errors.append(exc)
    return Collected(walker.documents, walker.errors)
