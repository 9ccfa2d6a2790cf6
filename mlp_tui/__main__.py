"""``python -m mlp_tui``: the same as the ``mlp-tui`` command."""

import sys

from mlp_tui.cli import main

sys.exit(main())
