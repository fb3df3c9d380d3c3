"""Installing a snapshot's environment: uv (or pip) run on the requirements that
``read/requirements.py`` writes, into a new virtual environment (``venv``) or a PEP 751
``pylock.toml`` (``pylock``). ``tools`` is the one place that starts the installers."""
