"""Credentials taken out of what a snapshot records: remote URLs (``strip_credentials``) and
the command line (``redact_argv``). Used by the metadata and by the environment record, and
below both of them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Optional


def strip_credentials(url: str) -> str:
    """A remote URL without passwords, tokens in user names, or query strings.

    ``https://user:token@host/r.git`` becomes ``https://host/r.git``; scp-style
    ``git@host:r.git`` and ``ssh://git@host/r`` keep their (harmless) user name.
    """
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if not parts.scheme or parts.netloc == "" or "@" not in parts.netloc:
        return url if not parts.scheme else urlunsplit(parts._replace(query="", fragment=""))
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user: Optional[str] = userinfo.split(":", 1)[0]
    if parts.scheme.lower() in ("http", "https", "ftp", "ftps"):
        user = None
    netloc = f"{user}@{hostport}" if user else hostport
    return urlunsplit(parts._replace(netloc=netloc, query="", fragment=""))


REDACTED = "<redacted>"
# An option or ``key=value`` name that holds a credential: token, secret, password, passwd,
# passphrase, credential, auth (not author), bearer, or as a word of its own key (api_key,
# --key, apikey), pass, pw, pwd (--db-pwd); the short option -p (mysql's, psql's password).
_SECRET_NAME = re.compile(
    r"token|secret|passw(?:or)?d|passphrase|credential|auth(?!or)|bearer"
    r"|(?:^|[-_.])(?:api|access|private|secret|hf|wandb|openai)?keys?(?:$|[-_.])"
    r"|(?:^|[-_.])(?:pass|pw|pwd|db[-_]?pass)(?:$|[-_.])|^p$",
    re.IGNORECASE,
)
# ``Authorization: Bearer X``, ``Bearer X``, ``token X`` in an argument (an HTTP header given to
# a script): the credential after the scheme goes.
_AUTH_HEADER = re.compile(r"(?i)\b((?:authorization:\s*)?(?:bearer|basic|token)\s+)[^\s\"',;]+")
# ``"token": "X"`` in a JSON (or Python dict) argument, for a credential-named key.
_JSON_SECRET = re.compile(r"""(["']([^"'\s]{1,64})["']\s*:\s*["'])([^"']*)(["'])""")
# ``https://TOKEN@host``: a token given as the user name of an HTTP URL.
_HTTP_USER = re.compile(r"(?i)(https?://)[^/@\s:]+@")
# Values that are credentials wherever they appear: well-known token formats.
_TOKEN_FORMATS = re.compile(
    r"(?<![A-Za-z0-9])(?:hf_[A-Za-z0-9]{20,}"
    r"|sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}"
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{20,}"
    r"|glpat-[A-Za-z0-9_-]{20,}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}"
    r"|AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}"
    r"|AIza[0-9A-Za-z_-]{35}"
    r"|npm_[A-Za-z0-9]{36}|pypi-[A-Za-z0-9_-]{50,}"
    r"|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})"
)
# ``scheme://user:password@`` in a URL: the password goes (all of it, ``@`` in it too: up to
# the last ``@`` before the path), the user stays.
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]*):[^/\s]*@")
# ``?token=...`` and the like in a URL's query.
_QUERY_SECRET = re.compile(r"([?&;]([^=&;#\s]+)=)([^&;#\s]*)")


def redact_argv(argv: Sequence[str]) -> tuple[list[str], int]:
    """The command line with credentials replaced by ``<redacted>``, and how many were.

    Redacted: the value of an option or ``name=value`` argument whose name says it is a
    credential (``--hf-token=X``, ``--api-key X``, ``--pass X``, ``-p X``, ``--pw X``,
    ``--db-pwd=X``, ``--passphrase X``, ``--bearer X``, hydra's ``db.password=X``), even a
    value starting with ``-``; well-known token formats anywhere (``hf_...``, ``ghp_...``,
    ``sk-...``, AWS key ids, JWTs); ``Authorization: Bearer X``; credential-named keys of a JSON
    argument (``{"token": "X"}``); the password of ``user:password@`` in a URL (``@`` in it
    too), a token given as an HTTP URL's user name (``https://TOKEN@github.com``), and
    credential-named query parameters. Everything else stays.
    """
    out: list[str] = []
    count = 0
    secret_follows = False
    for arg in argv:
        if secret_follows and not arg.startswith("--"):  # "-x..." may be a password
            out.append(REDACTED)
            count += 1
            secret_follows = False
            continue
        new, n = _redact_one(arg)
        secret_follows = arg.startswith("-") and "=" not in arg and _secret_name(arg)
        out.append(new)
        count += n
    return out, count


def _secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name.lstrip("-+~")))


def _redact_one(arg: str) -> tuple[str, int]:
    count = 0
    name, eq, _value = arg.partition("=")
    if eq and name and not any(c in name for c in "/: ") and _secret_name(name):
        return f"{name}={REDACTED}", 1

    def query(match: re.Match[str]) -> str:
        nonlocal count
        if not _secret_name(match.group(2)):
            return match.group(0)
        count += 1
        return match.group(1) + REDACTED

    def json_value(match: re.Match[str]) -> str:
        nonlocal count
        if not _secret_name(match.group(2)) or not match.group(3):
            return match.group(0)
        count += 1
        return match.group(1) + REDACTED + match.group(4)

    arg, n = _URL_PASSWORD.subn(rf"\1:{REDACTED}@", arg)
    count += n
    arg, n = _HTTP_USER.subn(rf"\1{REDACTED}@", arg)
    count += n
    arg, n = _AUTH_HEADER.subn(rf"\1{REDACTED}", arg)
    count += n
    arg = _JSON_SECRET.sub(json_value, arg)
    arg = _QUERY_SECRET.sub(query, arg)
    arg, n = _TOKEN_FORMATS.subn(REDACTED, arg)
    return arg, count + n
