"""`python -m catzilla run module:app ...`: the same as the `catzilla` command."""
import sys

from catzilla.cli import main

if __name__ == "__main__":
    sys.exit(main())
