"""``scan --secrets --format sarif``: the findings as a SARIF 2.1.0 log, for GitHub code
scanning (``github/codeql-action/upload-sarif``) and other SARIF viewers.

Each rule has a stable ``ruleId`` (the ids of ``rules``); each result a location (the file in
the snapshot and its line, for a finding in the code; the checkpoint file otherwise) and a
``partialFingerprints`` entry (a hash of the finding's fingerprint, which names the commit, the
path, the rule and the line), so that the same finding in the next run is the same alert.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from .._version import __version__
from . import rules
from .secrets import HISTORY, NOTE, TREE, WARNING, Finding, SecretScan, fingerprint_hash

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = "jellymlFingerprint/v1"


def _rule_list() -> list[tuple[str, str, str, str]]:
    """(id, name, description, level) of every rule, in a fixed order."""
    found = [(r.id, r.name, r.description, "error") for r in rules.RULES]
    for rule_id, (name, description) in rules.OTHER_RULES.items():
        level = {rules.SUSPICIOUS_PICKLE: NOTE, rules.INCOMPLETE: WARNING}.get(rule_id, "error")
        found.append((rule_id, name, description, level))
    return found


def sarif_log(result: SecretScan) -> dict[str, Any]:
    """The SARIF 2.1.0 log of ``result``."""
    rule_list = _rule_list()
    index = {rule_id: at for at, (rule_id, *_rest) in enumerate(rule_list)}
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "jellyml",
                        "informationUri": "https://github.com/jellyml/jellyml",
                        "version": __version__,
                        "rules": [_rule(*rule) for rule in rule_list],
                    }
                },
                "results": [_result(f, index[f.rule]) for f in result.findings],
            }
        ],
    }


def _rule(rule_id: str, name: str, description: str, level: str) -> dict[str, Any]:
    return {
        "id": rule_id,
        "name": "".join(word.capitalize() for word in rule_id.split("-")),
        "shortDescription": {"text": name},
        "fullDescription": {"text": description or name},
        "defaultConfiguration": {"level": level},
    }


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    return {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": finding.level,
        "message": {"text": _message(finding)},
        "locations": [_location(finding)],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint_hash(finding)},
        "properties": {
            "checkpoint": finding.checkpoint,
            "where": finding.where,
            "commit": finding.commit,
            "match": finding.match,
            "fingerprint": finding.fingerprint,
        },
    }


def _message(finding: Finding) -> str:
    text = finding.message or finding.rule
    if finding.where in (TREE, HISTORY):
        text += f" (inside the snapshot of {finding.checkpoint})"
    return text


def _location(finding: Finding) -> dict[str, Any]:
    """The file in the snapshot and its line, for a finding in the code; else the checkpoint."""
    if finding.where in (TREE, HISTORY) and finding.path:
        physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(finding.path)}}
        if finding.line:
            physical["region"] = {"startLine": finding.line}
        return {"physicalLocation": physical}
    return {"physicalLocation": {"artifactLocation": {"uri": _uri(finding.checkpoint)}}}


def _uri(path: str) -> str:
    """A relative (or absolute-path) URI reference for a path, or a URL as it is."""
    if "://" in path:
        return path
    return quote(path.replace("\\", "/"), safe="/:@-._~!$&'()*+,;=")
