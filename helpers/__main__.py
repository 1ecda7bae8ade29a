"""Command line: ``python -m helpers COMMAND``; ``python -m helpers --help`` lists the commands."""

import sys

from helpers.cli import main

sys.exit(main())
