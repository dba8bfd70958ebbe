"""The SealedSecret transform and its edges: objects, keyring, template, reseal, controller client."""
