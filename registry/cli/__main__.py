"""``python -m registry.cli`` runs the ``tanhui`` command line."""

from registry.cli.app import main

main()
