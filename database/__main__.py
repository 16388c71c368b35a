"""python -m database: the same command as `metaprogram` (runs, studies, reports); see database/cli.py."""

import sys

from database.cli import main

sys.exit(main())
