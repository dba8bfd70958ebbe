"""The sops file format: an ordered tree, stores per file format, the value cipher,
the MAC and the metadata block, as in getsops/sops (see ../shared/specs/sops.md).

Stores (``stores/``) turn bytes into ``tree.Branch`` documents and back and never
see a key; the cipher and MAC code never see a file format.
"""
