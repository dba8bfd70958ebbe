"""Kubernetes access for secretsync (internal).

``secretsync.kube.client`` is the only module that imports the ``kubernetes`` package: a
dict-in/dict-out ``KubeClient`` with discovery, server-side apply, watches and error
classes that never carry a response body. ``secretsync.kube.watch`` builds the
list+watch loop (resourceVersion, bookmarks, relist on 410) that both controllers use.
Everything in ``client.__all__`` is re-exported here.
"""

from secretsync.kube import client as _client
from secretsync.kube.client import *  # noqa: F401,F403 - the package's face is the client's __all__

__all__ = list(_client.__all__)
