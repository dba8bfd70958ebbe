"""The SealedSecret transform and its edges (below ``kube/``: no Kubernetes client is imported here).

``objects`` (seal/unseal one object, kubeseal's input reading), ``keyring`` (sealing keys, the
file store), ``clusterkeys`` (the Secret-backed store over a client protocol), ``reencrypt`` (the
one re-encryption to the newest key), ``reseal`` (files rewritten in place), ``template``
(``template.data`` rendering), ``controllerclient`` (the controller as kubeseal reaches it, and
certificate fetching), ``recovery`` and ``kubesealio`` (what ``seal`` and ``unseal`` share).
"""
