"""The ``secretsync`` command line: one module per command, each thin.

A command module exposes ``add_arguments(parser)`` and ``run(args) -> int``; it parses,
calls the library, prints, and returns an exit code. Errors are raised, never
printed by the command: ``main.py`` owns the exception → exit-code map.
"""
