"""The sops transform and its I/O edges: keys, .sops.yaml config, whole-repo file operations, Vault transit."""
