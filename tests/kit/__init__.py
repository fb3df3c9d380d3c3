"""The test kit: the one home of what every test folder shares (pytest's pythonpath = tests).

* ``kit.cli``: the installed command line, run in a fresh process as a user runs it;
* ``kit.repos``: real git repositories in temporary folders, the deterministic environment they
  run in, the dirty and the conflicted repository, and what a user sees of a repository;
* ``kit.checkpoints``: torch-free checkpoint, safetensors and snapshot-file writers, built on
  ``snapshot_tensor`` (the one place a snapshot tensor is crafted), and JellyML 1.0.0's reader;
* ``kit.files``: file identities, sparse files, digests and disk use.

The fixtures (``make_repo``, ``dirty_repo``, ``conflicted_repo``, ...) are in the root
``conftest.py``; tests import helpers as ``from kit.cli import jellyml``.
"""
