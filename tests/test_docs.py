"""The documentation's sources: the command reference is generated from the parsers (every command on it), and
every relative link of the README and of docs/ names a file that exists."""
import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_command_reference_is_the_parsers_help():
    spec = importlib.util.spec_from_file_location("cli_reference", ROOT / "docs/hooks/cli_reference.py")
    assert spec is not None and spec.loader is not None
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    page = hook.on_page_markdown(f"intro\n{hook.MARKER}\n", None, None, None)
    for command in ("run", "sweep", "summarize", "forecast", "results", "rules", "methods", "report", "explain"):
        assert f"## `mnistlab {command}`" in page, command
    assert "--select RULE" in page and "--samples-per-class N" in page


def test_relative_links_name_files_that_exist():
    broken = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if not re.match(r"[a-z]+:", target) and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken, broken
