"""One module per command; each has ``register(subparsers)`` and a ``run(args)`` handler.

``register`` runs for every invocation (and for ``--help``), so a command module imports only
argparse at its top; its handler imports what it runs (restore, reader, render and rich).
"""
