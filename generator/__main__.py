"""`python -m generator` runs the hardcase command line."""

from generator.cli import entry

entry()
