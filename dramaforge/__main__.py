"""``python -m dramaforge``: the same command line as ``dramaforge``."""

from dramaforge.cli import app

app()
