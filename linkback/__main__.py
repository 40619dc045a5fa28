"""``python -m linkback`` is the ``linkback`` command."""

import sys

from .cli import main

sys.exit(main())
