"""``jellyml fix delete-last-history-item`` as a Python function (the spec's door).

Drops the last eat from the repository's history without touching the working tree. The work
that eat had put aside is not deleted: it stays under ``refs/jellyml/<id>/saved``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .restore.fixes import delete_last_item


@dataclass
class DeleteLastHistoryItemArgs_dataclass:
    # The spec's listing repeats extract-bundle's fields here by mistake; this command needs
    # only the repository.
    code_dir: Optional[str] = None
    quiet: bool = True


DeleteLastHistoryItemArgs = DeleteLastHistoryItemArgs_dataclass


def delete_last_history_item(args: DeleteLastHistoryItemArgs_dataclass) -> int:
    """Returns 0 (also when the history was empty); raises ``JellyMLError`` on failure."""
    delete_last_item(args.code_dir)
    return 0
