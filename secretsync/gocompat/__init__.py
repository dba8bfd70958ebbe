"""One copy of each Go-compatibility rule secretsync needs, each module named for the Go code it
follows (standard library only, no I/O; public within secretsync):

- ``gojson``: ``encoding/json``'s writer (``json.Marshal``/``MarshalIndent``, ``json.Number``).
- ``gostrconv``: ``strconv.Quote``/``Unquote`` (and client-go's ``UnquoteExtend``), ``ParseBool``,
  ``FormatFloat(v, 'g'|'f', -1, 64|32)``.
- ``goduration``: ``time.ParseDuration``, the Flux CRD duration pattern, Vault's ``ParseDurationSecond``.
- ``gotime``: RFC 3339 (``time.RFC3339``/``RFC3339Nano``, ``metav1.MicroTime``) and ``Timestamp``.
- ``gobase64``: ``base64.StdEncoding.DecodeString`` (newlines skipped, Go's error offsets).
"""
