"""``python -m gradfit``: the command line (see ``gradfit --help``)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
