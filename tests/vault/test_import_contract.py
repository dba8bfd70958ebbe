"""Import contracts of the Vault and age edges (STYLE.md): ``hvac`` is imported only by
``secretsync/vault/client.py`` and ``pyrage`` only by ``secretsync/crypto/age.py`` (imports inside
functions included). Uses the same line scan as tests/kube/test_import_contract.py.

Known exceptions go in ``KNOWN_EXCEPTIONS`` (none today); the test fails when one is no longer
needed, so the list cannot go stale.
"""

from __future__ import annotations

from tests.kube.test_import_contract import modules

# module -> the one file allowed to import it
DOORS = {"hvac": "secretsync/vault/client.py", "pyrage": "secretsync/crypto/age.py"}
KNOWN_EXCEPTIONS: set[tuple[str, str]] = set()


def importers(package: str) -> set[str]:
    return {name for name, imported in modules() if any(i == package or i.startswith(package + ".") for i in imported)}


def test_each_library_has_one_door():
    for package, door in DOORS.items():
        assert door in importers(package), f"the scan must see {door} import {package}"
        offenders = importers(package) - {door} - {f for p, f in KNOWN_EXCEPTIONS if p == package}
        assert offenders == set(), f"{package} imported outside {door}"


def test_known_exceptions_are_still_needed():
    stale = {(p, f) for p, f in KNOWN_EXCEPTIONS if f not in importers(p)}
    assert stale == set(), "remove these from KNOWN_EXCEPTIONS: they no longer import the library"


def test_sops_transit_goes_through_the_vault_module():
    imported = dict(modules())["secretsync/sops/transit.py"]
    assert "secretsync.vault.client" in imported and not any(i.startswith("hvac") for i in imported)
