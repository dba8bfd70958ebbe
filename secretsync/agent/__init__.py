"""The GitOps agent: the Sync reconciler and what surrounds it (drift, webhooks, notify, metrics)."""
