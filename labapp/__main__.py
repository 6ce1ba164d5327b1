"""``python -m labapp`` runs the CLI."""

import sys

from labapp.cli import main

sys.exit(main())
