"""One module per command; each has ``NAME``, ``ALIASES``, ``HELP``, ``register(subparsers)``
and a handler.

A command line imports and registers the module of its own command only (``cli.main``); the
others are imported for the main help, an alias or an unknown command. So a command module
imports only argparse at its top; its handler imports what it runs (restore, reader, render
and rich).
"""
