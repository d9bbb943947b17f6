"""`python -m generator` runs the hardcase command line."""

from .cli import entry

entry()
