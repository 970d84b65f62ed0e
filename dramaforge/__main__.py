"""``python -m dramaforge``: the same command line as ``dramaforge``."""

from dramaforge.cli.app import app

app()
