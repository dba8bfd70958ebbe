"""secretsync: a GitOps agent for Kubernetes whose speciality is secrets.

Public API: this package's ``SecretBytes`` and the ``secretsync`` command line.
Everything else is internal and may change between releases.
"""

from secretsync.secretvalue import SecretBytes

__all__ = ["SecretBytes", "__version__"]
__version__ = "0.1.0"
