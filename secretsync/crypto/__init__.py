"""Pure cryptography, vector-tested: bytes and plain data in, bytes and plain data out.

No Kubernetes, Vault, file or environment access happens here; callers at the edges
pass in what is needed (keys, callables for remote key services). Recipe-level calls
are the public ones; underscore helpers are for this package only.
"""
