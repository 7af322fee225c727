"""``python -m iplos_testkit.compose``: what ``make compose-test`` runs."""

import sys

from iplos_testkit.compose.run import main

sys.exit(main(sys.argv[1:]))
