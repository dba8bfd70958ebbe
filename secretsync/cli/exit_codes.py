"""Exit codes of the ``secretsync`` command line (listed in ``secretsync --help``).

Commands that replace another tool use that tool's codes where a script may act on
them (``secretsync sops`` uses sops's, ``secretsync diff`` uses kubectl diff's).
"""

OK = 0
ERROR = 1
USAGE = 2
DECRYPT_FAILED = 3  # a SealedSecret / sops value could not be decrypted
INTERRUPTED = 130
BROKEN_PIPE = 120

SUMMARY = """exit codes:
  0   success
  1   error (the message says what failed and what to do)
  2   usage error
  3   a value could not be decrypted or unsealed
  120 output pipe closed
  130 interrupted
  (secretsync sops uses sops's exit codes; secretsync diff: 0 no change, 1 changes, 2 error)"""
