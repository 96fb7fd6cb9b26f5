"""``python -m mailbridge`` runs the command line."""

from mailbridge.cli import main

main()
