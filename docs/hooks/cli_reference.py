"""mkdocs hook: the reference pages are written from the code itself at build time, so they cannot drift from it
(each page's source holds only a marker): the commands from the parsers (the same text as `--help`), the config
fields from RunConfig's declaration, the store's tables from the store's own schema."""
from __future__ import annotations

import argparse
import os
from contextlib import contextmanager
from dataclasses import fields

MARKER = "<!-- commands: generated from mnistlab.cli.parsers -->"
CONFIG_MARKER = "<!-- config: generated from mnistlab.config.RunConfig -->"
STORE_MARKER = "<!-- store: generated from mnistlab.runs.store -->"
# argparse wraps to the terminal and --lang's help names the locale's language: one page wherever it is built.
PINNED = {"COLUMNS": "100", "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", "LC_MESSAGES": "C.UTF-8"}


@contextmanager
def pinned_environment():
    """The variables the help text reads, pinned while it is written, then put back as they were."""
    saved = {name: os.environ.get(name) for name in PINNED}
    os.environ.update(PINNED)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _commands() -> list[tuple[str, argparse.ArgumentParser]]:
    from mnistlab.cli.main import build_parser

    parser = build_parser(settings=True)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return [("mnistlab", parser), *((f"mnistlab {name}", p) for name, p in sub.choices.items())]


def reference() -> str:
    parts = []
    with pinned_environment():
        for name, parser in _commands():
            parser.prog = name
            parts.append(f"## `{name}`\n\n```text\n{parser.format_help().rstrip()}\n```\n")
    return "\n".join(parts)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("%%", "%")


def config_reference() -> str:
    """One row per RunConfig field (its flag, default, allowed values, meaning), then each model's own settings."""
    from mnistlab.cli.args import AUGMENT_KEYS
    from mnistlab.config import RunConfig, flag_of
    from mnistlab.models.registry import model_settings

    defaults = RunConfig()
    composite = {"model": "`--models`", "model_args": "the models' flags, below",
                 **{name: f"`--augment {name}=`" for name in AUGMENT_KEYS}}
    rows = ["| field | flag | default | allowed | what |", "|---|---|---|---|---|"]
    for f in fields(RunConfig):
        meta = f.metadata
        flag = composite.get(f.name) or (
            "– (set by mnistlab)" if meta["flag"] is None else f"`{flag_of(f.name)}`")
        allowed = meta["allowed"] or (", ".join(f"`{c}`" for c in meta["choices"]) if meta["choices"] else "–")
        default = getattr(defaults, f.name)
        rows.append(f"| `{f.name}` | {flag} | `{default!r}` | {_cell(allowed)} | {_cell(meta['help'])} |")
    rows += ["", "The models' own settings (stored as `<model>_<setting>`, each entering a key only away from its "
             "default):", "", "| setting | flag | default | allowed | what |", "|---|---|---|---|---|"]
    for stored, spec, setting in model_settings():
        rows.append(f"| `{stored}` | `--{stored.replace('_', '-')}` | `{setting.default}` | {setting.allowed} | "
                    f"{_cell(setting.help)}, for `--models {spec.name}` |")
    return "\n".join(rows) + "\n"


def store_reference() -> str:
    """The two tables of a sweep's store.sqlite, as the store creates them."""
    from mnistlab.runs import store

    columns = ",\n".join(f"    {line.strip().rstrip(',')}" for line in store.COLUMNS.strip().splitlines())
    return (f"```sql\nCREATE TABLE meta ({store.META_TABLE});\n"
            f"CREATE TABLE runs (\n{columns}\n);\n```\n\nSchema version: `{store.SCHEMA_VERSION}` "
            "(the meta row `schema`).\n")


GENERATED = {MARKER: reference, CONFIG_MARKER: config_reference, STORE_MARKER: store_reference}


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ARG001 - mkdocs' hook signature
    for marker, write in GENERATED.items():
        if marker in markdown:
            markdown = markdown.replace(marker, write())
    return markdown
