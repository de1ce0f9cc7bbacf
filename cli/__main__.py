"""`python -m footfall.cli`: the same as the `footfall` command."""

import sys

from footfall.cli import main

sys.exit(main())
