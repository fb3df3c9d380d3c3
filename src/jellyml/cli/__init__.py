"""The jellyml, jelly and jly command line: parsing, one module per command, rendering."""
