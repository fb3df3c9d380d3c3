"""Output of ``scan --secrets``: a table (a finding a row, under its checkpoint), JSON (a list
of findings) or SARIF 2.1.0. Everything shown came from an untrusted file: cleaned first."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .render import info, plain
from .text import clean, plural

if TYPE_CHECKING:
    from ..publish.secrets import Finding, SecretScan

TABLE, JSON, SARIF = "table", "json", "sarif"
FORMATS = (TABLE, JSON, SARIF)


def secret_results(result: SecretScan, *, form: str, quiet: bool) -> None:
    if form == SARIF:
        from ..publish.sarif import sarif_log

        plain(json.dumps(sarif_log(result), indent=2))
    elif form == JSON:
        plain(json.dumps([f.to_json() for f in result.findings], indent=2, sort_keys=True))
    else:
        _table(result, quiet=quiet)


def _table(result: SecretScan, *, quiet: bool) -> None:
    header = ("level", "rule", "where", "location", "commit", "match")
    by_checkpoint: dict[str, list[Finding]] = {}
    for finding in result.findings:
        by_checkpoint.setdefault(finding.checkpoint, []).append(finding)
    for checkpoint, findings in by_checkpoint.items():
        plain(f"{clean(checkpoint)}:")
        rows = [header, *(_row(f) for f in findings)]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
        for row in rows:
            plain("  " + "  ".join([*(c.ljust(w) for c, w in zip(row, widths)), row[-1]]).rstrip())
    carrying = sum(1 for _path, snapshot in result.checkpoints if snapshot)
    ignored = f", {len(result.ignored)} ignored (.jellyml-scan-ignore)" if result.ignored else ""
    info(
        f"{plural(len(result.findings), 'finding')}{ignored} in "
        f"{plural(len(result.checkpoints), 'checkpoint')} ({carrying} carrying a snapshot).",
        quiet=quiet,
    )


def _row(f: Finding) -> tuple[str, ...]:
    return (
        f.level,
        f.rule,
        f.where,
        clean(f.location),
        clean(f.commit[:12]) if f.commit else "-",
        clean(f.match) if f.match else clean(f.message),
    )
