"""Kubernetes access for secretsync (internal): one careful door to the API, and what is built on it.

- ``client``: ``KubeClient``, dict-in/dict-out, with bounded retries of reads; ``transport``: the
  only module that imports ``kubernetes`` (configuration, the connection, raw requests);
  ``errors``: status codes and ``Status`` reasons as exception classes that never carry a response
  body; ``wire``: JSON bodies and Secret values on the wire; ``discovery``: apiVersion/kind →
  resource paths; ``kubeconfig``: kubeconfig content held in memory; ``watch``: the watch stream
  and the list+watch loop both controllers use.
- ``changeset``, ``plan``, ``apply``: server-side apply of a set of objects and its result;
  ``diff``, ``health``, ``hooks``, ``inventory``, ``prune``: the other steps of a reconcile.

``KubeClient`` and the error classes are re-exported here.
"""

from secretsync.kube import errors as _errors
from secretsync.kube.client import KubeClient
from secretsync.kube.errors import *  # noqa: F401,F403 - the error classes are part of the package's face

__all__ = ["KubeClient", *_errors.__all__]
