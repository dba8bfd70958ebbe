"""sops stores: bytes ⇄ ``tree.Branch`` documents, one module per format; they never see a key."""
