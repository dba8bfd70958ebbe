"""The drop-in SealedSecret controller: reconciler, runtime, endpoints, key manager (keymanager)."""
