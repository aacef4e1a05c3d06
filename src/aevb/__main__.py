import sys

from aevb.cli import main

sys.exit(main())
