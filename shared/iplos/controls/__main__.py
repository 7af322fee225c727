"""``python -m shared.iplos.controls > docs/controls.md``: the controls' documentation, from the catalogue."""

import sys

from shared.iplos.controls import render_markdown

sys.stdout.write(render_markdown())
