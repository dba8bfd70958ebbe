"""Entry point for ``python -m secretsync``."""

import sys

from secretsync.cli.main import main

sys.exit(main())
