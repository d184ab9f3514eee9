"""Strings from a folder or a user, made safe where they go: file names, LaTeX, HTML and Markdown.

A run folder or a sweep store may come from someone else, so every string read from one is data: a string
that becomes part of a file name must pass `is_safe_name` (or the row holding it is left out), and a string
shown in a document passes that document language's escaper, here and nowhere else.
"""
from __future__ import annotations

import html
import re

SAFE_NAME = re.compile(r"(?!\.)[A-Za-z0-9._-]{1,64}\Z")
ALLOWED = "1 to 64 of A-Z a-z 0-9 . _ -, not starting with a dot"

_TEX = {"\\": r"\textbackslash{}", "%": r"\%", "_": r"\_", "&": r"\&", "#": r"\#", "$": r"\$",
        "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
        "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}", '"': r"\textquotedbl{}"}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|&])")
# The few non-Latin-1 characters our texts use, as commands every LaTeX knows: a table \input alone compiles too.
_TEX_UNICODE = {"\u2013": "--", "\u2014": "---", "\u00d7": r"$\times$", "\u2212": "$-$", "\u00b7": r"$\cdot$"}


def is_safe_name(value: object) -> bool:
    """Whether `value` may be part of a file name: one safe alphabet, no separator, no leading dot."""
    return isinstance(value, str) and SAFE_NAME.match(value) is not None


def name_problem(value: object, what: str) -> str | None:
    """Why `value` cannot be part of a file name (`what` says which value it is), or None."""
    if is_safe_name(value):
        return None
    shown = repr(value) if len(repr(value)) <= 70 else repr(value)[:67] + "..."
    return f"{what} {shown} is not a safe name ({ALLOWED})"


def _printable(text: str) -> str:
    """Control characters (NUL, escapes, newlines inside a cell) shown as nothing a reader or TeX acts on."""
    return "".join(ch if ch.isprintable() or ch in "\n\t" else "\ufffd" for ch in text)


def tex(text: object) -> str:
    """Any text as plain text inside LaTeX: every special character escaped; control characters and what
    the smallest TeX install cannot typeset (beyond Latin-1 and the report's declared few) become '?'."""
    out = []
    for ch in _printable(str(text)):
        if ch in _TEX:
            out.append(_TEX[ch])
        elif ord(ch) > 0xFF or ch == "\ufffd":
            out.append(_TEX_UNICODE.get(ch, "?"))
        else:
            out.append(ch)
    return "".join(out)


def html_text(text: object) -> str:
    """Any text as plain text inside HTML, in an element or a quoted attribute."""
    return html.escape(_printable(str(text)), quote=True)


def code_span(text: object) -> str:
    """Text as inline code in Markdown, or escaped plain text where a backtick would end the span."""
    flat = " ".join(_printable(str(text)).split())
    return f"`{flat}`" if "`" not in flat and "\ufffd" not in flat else markdown(flat)


def markdown(text: object) -> str:
    """Any text as plain text inside Markdown, a table cell included: no markup, no raw HTML, one line."""
    flat = " ".join(_printable(str(text)).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat)
