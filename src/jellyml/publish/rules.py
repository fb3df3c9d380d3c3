"""The rule set of ``jellyml scan --secrets``: what a credential looks like.

Each rule has a stable id (``ruleId`` in SARIF, part of a finding's fingerprint: never renamed),
a few lower-case keywords (a file none of whose keywords appears is not searched with the
rule's pattern: gitleaks' prefilter, which keeps a scan of 20,000 files fast), a pattern over
bytes, and which group of the pattern is the secret itself. The generic assignment rule keeps a
match only when its value looks random (Shannon entropy), so ``token = tokenizer(x)`` is not one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    keywords: tuple[bytes, ...]
    pattern: re.Pattern[bytes]
    #: The pattern's group holding the secret (0: the whole match).
    group: int = 0
    #: A match is kept only when the secret's entropy (bits per character) reaches this.
    min_entropy: float = 0.0
    description: str = ""
    #: Whether the match must start where a word does (not inside ``xhf_...``).
    word_start: bool = True


_B = b""  # a secret starts where a word does: checked by ``find`` (a leading look-behind would
# keep the regular expression engine from jumping to the pattern's literal start)
_E = rb"(?![A-Za-z0-9_])"  # and ends where it does

RULES: tuple[Rule, ...] = (
    Rule(
        "aws-access-key-id",
        "AWS access key id",
        (b"akia", b"asia", b"abia", b"acca"),
        re.compile(_B + rb"(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}" + _E),
        description="An AWS access key id (AKIA..., or ASIA... for temporary credentials).",
    ),
    Rule(
        "aws-secret-access-key",
        "AWS secret access key",
        (b"aws",),
        re.compile(
            rb"(?i)aws.{0,20}?(?:secret|key).{0,20}?[\"'\s:=]{1,5}([A-Za-z0-9/+=]{40})"
            + rb"(?![A-Za-z0-9/+=])"
        ),
        group=1,
        min_entropy=3.0,
        description="A 40-character AWS secret access key assigned to an AWS-named variable.",
        word_start=False,
    ),
    Rule(
        "huggingface-token",
        "Hugging Face token",
        (b"hf_",),
        re.compile(_B + rb"hf_[A-Za-z0-9]{30,}" + _E),
        description="A Hugging Face access token (hf_...).",
    ),
    Rule(
        "github-token",
        "GitHub token",
        (b"ghp_", b"gho_", b"ghu_", b"ghs_", b"ghr_", b"github_pat_"),
        re.compile(_B + rb"(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{40,})" + _E),
        description="A GitHub personal access, OAuth, app or fine-grained token.",
    ),
    Rule(
        "openai-api-key",
        "OpenAI-style API key",
        (b"sk-",),
        re.compile(_B + rb"sk-(?:proj-|ant-|svcacct-)?[A-Za-z0-9_-]{20,}" + _E),
        description="An OpenAI (sk-, sk-proj-) or Anthropic (sk-ant-) API key.",
    ),
    Rule(
        "slack-token",
        "Slack token",
        (b"xox", b"hooks.slack.com"),
        re.compile(
            _B + rb"(?:xox[abposr]-[A-Za-z0-9-]{10,}"
            rb"|https://hooks\.slack\.com/services/[A-Za-z0-9/_-]{20,})"
        ),
        description="A Slack bot, user or app token, or an incoming-webhook URL.",
    ),
    Rule(
        "google-api-key",
        "Google API key",
        (b"aiza",),
        re.compile(_B + rb"AIza[0-9A-Za-z_-]{35}" + _E),
        description="A Google (Cloud, Firebase, Maps) API key.",
    ),
    Rule(
        "private-key",
        "private key block",
        (b"private key",),
        re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )?PRIVATE KEY(?: BLOCK)?-----"),
        description="The start of a PEM private key (RSA, EC, OpenSSH, PGP, ...).",
        word_start=False,
    ),
    Rule(
        "jwt",
        "JSON Web Token",
        (b"eyj",),
        re.compile(_B + rb"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
        description="A JSON Web Token (often a bearer token or a signed URL's credential).",
    ),
    Rule(
        "generic-secret",
        "password or token assignment",
        (b"pass", b"pwd", b"secret", b"token", b"api_key", b"apikey", b"api-key", b"auth"),
        re.compile(
            rb"(?i)(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|auth)"
            rb"[\"']?\s*(?:=|:|:=)\s*[\"']?([A-Za-z0-9_+/=.~!@#%^*-]{12,})"
        ),
        group=1,
        min_entropy=3.5,
        description="A password=, token=, secret= or api_key= assignment whose value looks "
        "random (Shannon entropy of at least 3.5 bits per character).",
        word_start=False,
    ),
)

BY_ID = {rule.id: rule for rule in RULES}
#: Rules about what a checkpoint is rather than a secret in it.
DANGEROUS_PICKLE = "dangerous-pickle-global"
SUSPICIOUS_PICKLE = "suspicious-pickle-global"
DAMAGED = "damaged-checkpoint"
CREDENTIAL_FILE = "credential-file"
INCOMPLETE = "scan-incomplete"
#: Their names and descriptions (for SARIF's rule list and the docs).
OTHER_RULES: dict[str, tuple[str, str]] = {
    DANGEROUS_PICKLE: (
        "dangerous pickle global",
        "The pickle imports a callable that can run code when loaded (os.system, "
        "builtins.eval, subprocess.*, ...); torch.load(weights_only=False) would run it.",
    ),
    SUSPICIOUS_PICKLE: (
        "unknown pickle global",
        "The pickle imports a global that is neither known safe nor known dangerous.",
    ),
    DAMAGED: (
        "damaged checkpoint",
        "The file cannot be read whole but its bytes may still hold a snapshot (code).",
    ),
    CREDENTIAL_FILE: (
        "credential file in snapshot",
        "A file named like a credential store (.env, .git-credentials, .aws/credentials, "
        "kaggle.json, ...) is in the snapshot's tree or history.",
    ),
    INCOMPLETE: (
        "scan incomplete",
        "Part of the snapshot could not be searched (too many files, too large, "
        "a history that builds on commits the file does not carry).",
    ),
}


_LETTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"
_WORD = frozenset(bytes([c]) for c in _LETTERS)


@dataclass(frozen=True)
class Match:
    rule: Rule
    #: Where the secret starts and ends in the searched bytes.
    start: int
    end: int
    secret: bytes


def find(data: bytes, lowered: Optional[bytes] = None) -> Iterator[Match]:
    """Every rule's matches in ``data``, in rule order."""
    lowered = data.lower() if lowered is None else lowered
    for rule in RULES:
        if not any(keyword in lowered for keyword in rule.keywords):
            continue
        for found in rule.pattern.finditer(data):
            at = found.start()
            if rule.word_start and at and data[at - 1 : at] in _WORD:
                continue
            secret = found.group(rule.group)
            if rule.min_entropy and entropy(secret) < rule.min_entropy:
                continue
            yield Match(rule, found.start(rule.group), found.end(rule.group), secret)


def entropy(value: bytes) -> float:
    """Shannon entropy of ``value`` in bits per byte."""
    if not value:
        return 0.0
    counts: dict[int, int] = {}
    for byte in value:
        counts[byte] = counts.get(byte, 0) + 1
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def redact(secret: bytes) -> str:
    """The first and last 2 characters, the rest as ``*`` (at most 8 of them)."""
    text = secret.decode("utf-8", "replace")
    if len(text) <= 6:
        return "*" * len(text)
    return f"{text[:2]}{'*' * min(8, len(text) - 4)}{text[-2:]}"


def credential_file(path: str) -> bool:
    """Whether ``path`` is named like a credential store (the snapshot's own list of what it
    leaves out by default)."""
    from ..snapshot.guards import named_like_secret

    return named_like_secret(path)
