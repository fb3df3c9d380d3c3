"""The git layer: the only place jellyml runs git.

``run`` starts git (argument lists, scrubbed environment, version check); ``repo`` is the one
repository type; ``index`` stages and commits in a temporary index and object store; ``bundle``
reads and writes bundles. Nothing here knows about checkpoints.
"""
