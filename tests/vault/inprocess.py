"""``secretsync.cli.main.main`` called in this process by tests (no interpreter start, no re-imports).

``call_main(args)`` returns the exit code and puts the root logger back as it was, since
``main`` points it at stderr; callers capture stdout/stderr with ``capsys``/``capsysbinary``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from secretsync.cli.main import main


def call_main(args: Sequence[str]) -> int:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        return main(list(args))
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
