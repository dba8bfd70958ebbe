"""Errors for people: every secretsync error carries a stable reference and a hint.

Commands raise these; only ``secretsync.cli.main`` turns them into a message and an
exit code. Messages name files, objects and keys, never secret values.
"""

from __future__ import annotations

__all__ = ["SecretsyncError", "UsageError"]


class SecretsyncError(Exception):
    """An error the user can act on.

    ``reference`` is a kebab-case identifier (stable across releases, usable in
    docs and tests), ``hint`` tells the user what to do next, ``exit_code`` is what
    the CLI returns for it.
    """

    reference: str = "secretsync-error"
    exit_code: int = 1

    def __init__(
        self, message: str, *, hint: str | None = None, reference: str | None = None, exit_code: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if reference is not None:
            self.reference = reference
        if exit_code is not None:
            self.exit_code = exit_code

    def report(self) -> str:
        """The message as the CLI prints it: the message, then the hint if any."""
        text = self.message
        if self.hint:
            text += f"\nhint: {self.hint}"
        return text


class UsageError(SecretsyncError):
    """The command line was wrong (exit code 2)."""

    reference = "usage"
    exit_code = 2
