"""dramaforge: a script in, a finished short drama out."""

__version__ = "0.2.0"
