"""``python -m deblur_cli`` runs the command-line tool."""

import sys

from .cli import main

if __name__ == "__main__":  # worker processes import this module again: run only once
    sys.exit(main())
