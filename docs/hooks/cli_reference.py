"""mkdocs hook: the command reference page is written from the parsers themselves at build time, so it cannot
drift from `--help` (the page's source holds only a marker)."""
from __future__ import annotations

import argparse
import os

MARKER = "<!-- commands: generated from mnistlab.cli.parsers -->"


def _commands() -> list[tuple[str, argparse.ArgumentParser]]:
    from mnistlab.cli.main import build_parser

    parser = build_parser(settings=True)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return [("mnistlab", parser), *((f"mnistlab {name}", p) for name, p in sub.choices.items())]


def reference() -> str:
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal; the page is built without one
    parts = []
    for name, parser in _commands():
        parser.prog = name
        parts.append(f"## `{name}`\n\n```text\n{parser.format_help().rstrip()}\n```\n")
    return "\n".join(parts)


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ARG001 - mkdocs' hook signature
    return markdown.replace(MARKER, reference()) if MARKER in markdown else markdown
