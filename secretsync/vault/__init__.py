"""The Vault placeholder transform (argocd-vault-plugin compatible); internal, used by render/ and the agent.

``config`` (AVP's environment, ``-c`` and ``-s``), ``client`` (login, retries, KV reads and the
one-address ``TransitEndpoint``: the only hvac import), ``transit`` (transit requests and
answers), ``errors``, ``values`` (``SecretData``), ``placeholders`` (parse and resolve),
``modifiers`` (the seven AVP modifiers), ``jsonpath`` (kubectl JSONPath templates) and
``generate`` (``argocd-vault-plugin generate``'s input and output).
"""
