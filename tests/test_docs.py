"""The documentation: the reference pages are generated from the code (the parsers, RunConfig, the store) and do not
depend on who builds them; every relative link names a file that exists; every `mnistlab` command shown parses; the
tutorials' runnable blocks run; the built site renders in a browser with its headings and images.

A tutorial marks a block to run with an HTML comment on the line before its fence: `<!-- runnable -->` runs a bash
block, `<!-- runnable: NAME -->` writes the block to the file NAME first. A page's blocks run in order in one fresh
folder."""
from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
RUNNABLE = re.compile(r"^<!-- runnable(?:: (?P<file>[\w.-]+))? -->\n```(?P<lang>\w+)\n(?P<body>.*?)^```$", re.M | re.S)
FENCE = re.compile(r"^```(?:bash|sh|console)\n(.*?)^```$", re.M | re.S)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def need(ok: bool, why: str) -> None:
    """Skip without what a test needs; under CI fail instead, so that CI never passes a docs test it did not run."""
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{why} (CI is set, so this test must run)")
    pytest.skip(why)


def load_hook():
    spec = importlib.util.spec_from_file_location("cli_reference", DOCS / "hooks/cli_reference.py")
    assert spec is not None and spec.loader is not None
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    return hook


def commands_in(text: str) -> list[str]:
    """Every `mnistlab ...` line of the shell blocks of a page, continuation lines joined."""
    lines = []
    for block in FENCE.findall(text):
        lines += [line.strip() for line in block.replace("\\\n", " ").splitlines() if line.startswith("mnistlab ")]
    return lines


# --- generated reference pages -------------------------------------------------------------------------------------

def test_the_command_reference_is_the_parsers_help(monkeypatch, capsys):
    """The page holds, for every command, exactly what `mnistlab COMMAND --help` prints with the locale and the
    terminal width pinned, whatever the builder's own locale and terminal are."""
    from mnistlab.cli.main import main

    hook = load_hook()
    monkeypatch.setenv("LANG", "pt_BR.UTF-8")  # a builder in Portuguese, on a narrow terminal
    monkeypatch.setenv("COLUMNS", "60")
    page = hook.on_page_markdown(f"intro\n{hook.MARKER}\n", None, None, None)
    assert os.environ["LANG"] == "pt_BR.UTF-8" and os.environ["COLUMNS"] == "60"  # put back after the page
    sections = dict(re.findall(r"^## `(mnistlab[\w ]*)`\n\n```text\n(.*?)\n```$", page, re.M | re.S))
    for command in ("run", "sweep", "summarize", "forecast", "results", "rules", "methods", "report", "explain"):
        assert f"mnistlab {command}" in sections, command
    assert "--select RULE" in page and "--samples-per-class N" in page

    for name, var in hook.PINNED.items():
        monkeypatch.setenv(name, var)
    for name, text in sections.items():
        with pytest.raises(SystemExit) as done:
            main([*name.split()[1:], "--help"])
        assert done.value.code == 0
        assert capsys.readouterr().out.rstrip() == text, name
    assert re.search(r"here\s+en\)", sections["mnistlab run"])  # --lang's default, as the pinned locale resolves it


def test_the_config_and_store_references_cover_every_field():
    from dataclasses import fields

    from mnistlab.config import RunConfig
    from mnistlab.runs.store import RUN_COLUMNS

    hook = load_hook()
    config = hook.on_page_markdown(hook.CONFIG_MARKER, None, None, None)
    for f in fields(RunConfig):
        assert f"| `{f.name}` |" in config, f.name
    assert "| `mlp_hidden` | `--mlp-hidden` | `256` |" in config
    store = hook.on_page_markdown(hook.STORE_MARKER, None, None, None)
    for column in RUN_COLUMNS:
        assert re.search(rf"^    {column} [A-Z]", store, re.M), column
    for page, marker in (("config.md", hook.CONFIG_MARKER), ("files.md", hook.STORE_MARKER)):
        assert marker in (DOCS / "reference" / page).read_text(), page


# --- links and commands ----------------------------------------------------------------------------------------------

def test_relative_links_name_files_that_exist():
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if not re.match(r"[a-z]+:", target) and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken, broken


def test_every_command_shown_parses(capsys):
    """A flag renamed or removed in the code fails here, naming the page that still shows it."""
    from mnistlab.cli.main import build_parser
    from mnistlab.errors import UsageError

    parser = build_parser(settings=True)
    bad, seen = [], 0
    for page in PAGES:
        for line in commands_in(page.read_text()):
            argv = shlex.split(line, comments=True)[1:]
            seen += 1
            try:
                parser.parse_args(argv)
            except SystemExit as e:  # --help
                if e.code != 0:
                    bad.append(f"{page.relative_to(ROOT)}: {line}")
            except UsageError as e:
                bad.append(f"{page.relative_to(ROOT)}: {line} ({e})")
    capsys.readouterr()
    assert seen >= 50 and not bad, bad


def test_the_readme_stays_short_and_keeps_its_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert len(readme) <= 8000
    head = "\n".join(readme.splitlines()[:40])
    assert "## Two commands" in head and "python -m pip install -e '.[test]' && python -m pytest" in head


# --- runnable tutorial blocks ----------------------------------------------------------------------------------------

def runnable_pages() -> list[Path]:
    return [p for p in sorted((DOCS / "tutorials").glob("*.md")) if RUNNABLE.search(p.read_text())]


def test_runnable_markers_are_well_formed():
    """A marker not followed by a fence would silently drop its block from the test below."""
    for page in sorted((DOCS / "tutorials").glob("*.md")):
        text = page.read_text()
        assert text.count("<!-- runnable") == len(RUNNABLE.findall(text)), page.name
        assert all(m["file"] or m["lang"] == "bash" for m in RUNNABLE.finditer(text)), page.name
    assert len(runnable_pages()) >= 3


@pytest.fixture
def mnist_cache(request):
    """The tutorials' commands read MNIST from the cache and must never fetch it."""
    from mnistlab.data.loader import cache_dir, find_verified
    from mnistlab.data.mnist import IDX_MD5

    if len(find_verified(cache_dir())[0]) == len(IDX_MD5):
        return
    if os.environ.get("CI"):  # a fresh CI machine: fill the cache the way the whole suite does (conftest)
        request.getfixturevalue("mnist")
        return
    pytest.skip(f"no verified MNIST in {cache_dir()} (`mnistlab data` fills it)")


@pytest.mark.parametrize("page", runnable_pages(), ids=lambda p: p.stem)
def test_tutorial_blocks_run(page, mnist_cache, tmp_path, monkeypatch, capsys):
    from mnistlab.cli.main import main

    monkeypatch.chdir(tmp_path)
    for block in RUNNABLE.finditer(page.read_text()):
        if block["file"]:
            (tmp_path / block["file"]).write_text(block["body"])
            continue
        for line in block["body"].replace("\\\n", " ").splitlines():
            argv = shlex.split(line, comments=True)
            if not argv:
                continue
            if argv[0] == "mnistlab":
                # The function the `mnistlab` script calls, in this process: no new interpreter and torch import
                # (~1.5 s) per line, so that every tutorial's blocks together stay within seconds.
                status = main(argv[1:])
            else:
                status = subprocess.run(line, shell=True, executable="/bin/bash", cwd=tmp_path, env=os.environ,
                                        timeout=60).returncode
            assert status == 0, f"{page.name}: {line}\n{capsys.readouterr().err}"


# --- the built site in a browser -------------------------------------------------------------------------------------

# Appended to a copy of a built page: once everything has loaded, the <body> names every image that did not decode.
PROBE = ("<script>window.addEventListener('load', () => { document.body.dataset.broken = [...document.images]"
         ".filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute('src')).join(' ') || 'none'; "
         "});</script>")


def test_the_site_builds_and_renders_in_chromium(tmp_path, monkeypatch):
    need(importlib.util.find_spec("mkdocs") is not None and importlib.util.find_spec("mkdocstrings") is not None,
         "mkdocs and mkdocstrings not installed (pip install -e '.[docs]')")
    need(CHROMIUM is not None, "chromium not installed (.ci/run installs it)")
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    monkeypatch.setenv("NO_MKDOCS_2_WARNING", "1")
    site = tmp_path / "site"
    build(load_config(str(ROOT / "mkdocs.yml"), site_dir=str(site), strict=True))  # strict: a warning aborts

    pages = {"index.html": ("mnistlab", ["Start", "Where things are"]),
             "tutorials/notebook-study/index.html": ("The notebook's study, end to end",
                                                     ["Install", "The whole study in a few seconds"])}
    browsers = {}
    for n, page in enumerate(pages):
        probe = (site / page).with_name(f"_probe_{n}.html")  # beside the page, so its relative links hold
        probe.write_text((site / page).read_text().replace("</body>", PROBE + "</body>"))
        browsers[page] = subprocess.Popen(
            [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / f'profile{n}'}", "--dump-dom", probe.as_uri()],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for page, (title, sections) in pages.items():
        dom, _ = browsers[page].communicate(timeout=60)
        assert browsers[page].returncode == 0, page
        headings = [re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r"<h[12][^>]*>(.*?)</h[12]>", dom, re.S)]
        assert title in headings and all(s in headings for s in sections), (page, headings)
        images = re.findall(r"<img[^>]*\ssrc=\"([^\"]+)\"", dom)
        assert images or page != "index.html", "the landing page shows its figure"
        for src in images:
            assert not re.match(r"[a-z]+:", src), f"{page}: {src} is not a file of the site"
            assert ((site / page).parent / src).resolve().is_file(), f"{page}: {src}"
        assert 'data-broken="none"' in dom, re.findall(r'data-broken="[^"]*"', dom) or "the probe did not run"
