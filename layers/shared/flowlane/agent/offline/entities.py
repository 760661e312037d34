"""Exact things a request names: URLs, email addresses, Slack channels, GitHub repositories.

They are read before anything else and masked in the text (`URL1`, `EMAIL1`, ...), so the
sentence and clause splitters never cut a URL at its dots and the word readers never take
`sales@acme.com` for the word "sales".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_URL = re.compile(r"\bhttps?://[^\s<>\"'`)\]]+[^\s<>\"'`)\].,;:!?]", re.IGNORECASE)
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,63}\b")
_CHANNEL = re.compile(r"(?<![\w&/])#([a-z0-9][a-z0-9_-]{0,79})\b", re.IGNORECASE)
_REPO_URL = re.compile(
    r"github\.com/([A-Za-z0-9][A-Za-z0-9-]{0,38})/([A-Za-z0-9._-]{1,100})", re.IGNORECASE
)
# "acme/widgets" next to a GitHub word; a bare a/b is too often "and/or", "input/output".
_REPO = re.compile(r"(?<![\w/.:])([A-Za-z0-9][A-Za-z0-9-]{0,38})/([A-Za-z0-9._-]{1,100})(?![\w/])")
_REPO_CUE = re.compile(r"\b(github|repo|repository|issues?|pull requests?|prs?)\b", re.IGNORECASE)
_QUOTED = re.compile(
    r"[\"\u201c\u201d]([^\"\u201c\u201d]{1,60})[\"\u201c\u201d]|(?<!\w)[\u2018']([^\u2019']{1,60})['\u2019](?!\w)"
)
# Words naming a channel: "the sales channel", "our #x channel", "channel sales".
_CHANNEL_WORDS = re.compile(
    r"\b(?:the|our|my|a|in|to)\s+([a-z0-9][a-z0-9_-]{1,40})\s+(?:slack\s+)?channel\b", re.IGNORECASE
)
_NOT_CHANNEL_NAMES = frozenset(
    {
        "slack",
        "same",
        "right",
        "team",
        "specific",
        "single",
        "one",
        "dedicated",
        "private",
        "public",
        "given",
        "configured",
        "designated",
        "appropriate",
        "target",
        "correct",
        "relevant",
        "that",
        "this",
        "each",
        "every",
        "notification",
    }
)


@dataclass
class Entities:
    urls: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    repos: list[tuple[str, str]] = field(default_factory=list)
    quoted: list[str] = field(default_factory=list)

    def unmask(self, text: str) -> str:
        """The text with the URL/EMAIL placeholders put back."""

        def back(match: re.Match[str]) -> str:
            kind, index = match.group(1), int(match.group(2)) - 1
            values = self.urls if kind == "URL" else self.emails
            return values[index] if 0 <= index < len(values) else match.group(0)

        return re.sub(r"\b(URL|EMAIL)(\d+)\b", back, text)


def read_entities(text: str) -> tuple[Entities, str]:
    """The entities of `text` and the text with URLs and emails masked (URL1, EMAIL1, ...)."""
    found = Entities()
    for match in _REPO_URL.finditer(text):
        repo = (match.group(1), match.group(2).removesuffix(".git"))
        if repo not in found.repos:
            found.repos.append(repo)

    def url(match: re.Match[str]) -> str:
        found.urls.append(match.group(0))
        return f"URL{len(found.urls)}"

    masked = _URL.sub(url, text)

    def email(match: re.Match[str]) -> str:
        found.emails.append(match.group(0))
        return f"EMAIL{len(found.emails)}"

    masked = _EMAIL.sub(email, masked)
    for match in _CHANNEL.finditer(masked):
        name = match.group(1).lower()
        if not name.isdigit() and f"#{name}" not in found.channels:
            found.channels.append(f"#{name}")
    for match in _CHANNEL_WORDS.finditer(masked):
        name = match.group(1).lower().lstrip("#")
        if name not in _NOT_CHANNEL_NAMES and f"#{name}" not in found.channels:
            found.channels.append(f"#{name}")
    if _REPO_CUE.search(masked):
        for match in _REPO.finditer(masked):
            repo = (match.group(1), match.group(2).rstrip("."))
            if repo not in found.repos and not match.group(0).startswith(("URL", "EMAIL")):
                found.repos.append(repo)
    for match in _QUOTED.finditer(masked):
        value = (match.group(1) or match.group(2) or "").strip()
        if value and value not in found.quoted:
            found.quoted.append(value)
    return found, masked
