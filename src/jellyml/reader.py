"""Kept importable for existing users: the reader lives in ``jellyml.read.reader``."""

from __future__ import annotations

from .read.reader import Snapshot, read_snapshot, temporary_bundle

__all__ = ["Snapshot", "read_snapshot", "temporary_bundle"]
