"""``python -m fyerstrade`` runs the command line."""

from fyerstrade.cli import run

run()
