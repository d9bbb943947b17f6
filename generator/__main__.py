"""`python -m generator` runs the hardcase command line."""

from generator.cli.main import entry

entry()
