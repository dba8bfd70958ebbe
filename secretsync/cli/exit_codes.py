"""Exit codes of the ``secretsync`` command line (listed in ``secretsync --help``).

Commands that replace another tool use that tool's codes where a script may act on
them (``secretsync sops`` uses sops's, ``secretsync diff`` uses kubectl diff's). No command
defines codes of its own: they are named here (or, for sops, in its one table), and
``cli/main.py`` maps exceptions to them.
"""

OK = 0
ERROR = 1
USAGE = 2
DECRYPT_FAILED = 3  # a SealedSecret / sops value could not be decrypted
INTERRUPTED = 130
BROKEN_PIPE = 120

# secretsync diff uses kubectl diff's codes (a command's module sets FAILURE_EXIT_CODE to give
# every SecretsyncError its own code; cli/main.py applies it).
DIFF_NO_CHANGES = 0
DIFF_CHANGES = 1
DIFF_ERROR = 2

# secretsync sops uses sops's codes: the one table is secretsync.crypto.sops.errors (EXIT_*),
# carried by each SopsError's exit_code.

SUMMARY = """exit codes:
  0   success
  1   error (the message says what failed and what to do)
  2   usage error
  3   a value could not be decrypted or unsealed
  120 output pipe closed
  130 interrupted
  (secretsync sops uses sops's exit codes; secretsync diff: 0 no change, 1 changes, 2 error)"""
