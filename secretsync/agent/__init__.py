"""The GitOps agent: the Sync reconciler and what surrounds it. Internal; its entry point is ``secretsync agent``.

- ``runtime``: one agent process (Sync watch → work queue → reconciler; pollers, HTTP, HA, sharding);
- ``reconciler``: the step pipeline of one reconcile and its outcome (conditions, events, requeue);
- ``state``: options, the per-Sync memory, owner labels, the step failure;
- ``dependencies``, ``fetch``, ``rendercache`` (with ``inputs``: Secrets and postBuild variables),
  ``targets`` (the cluster applied to), ``status`` (inventory stores): one step each;
- ``drift``, ``webhooks``, ``notify``, ``gitcreds``, ``vaultrefs``, ``metrics``: the jobs around it.
"""
