"""``python -m iplos_cli ...``: the ``iplos`` command line (how the development chain starts each service)."""

from iplos_cli.main import app

app()
