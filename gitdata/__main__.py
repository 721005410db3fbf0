"""``python -m gitdata`` runs the ``gd`` CLI."""

from gitdata.cli.main import run

run()
