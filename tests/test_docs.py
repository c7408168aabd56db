"""The docs a user navigates: README.md is a front page of at most 250 lines that links every page of docs/;
every relative link in the README, docs/ and examples/README.md reaches a file of the repository, and every
`#anchor` a heading as GitHub renders it; the counts the pages state are the catalog's; every setting is in the
configuration page's table and every module in the development page's layout. Other tests hold the rest to the
code: the client snippets start (test_client_configs.py), the tool table is generated (test_specgen.py), the
sandbox's test numbers and the official SDK's pass count (test_sandbox_outcomes.py, test_sdk_suite.py), the
measured shares (test_agent_reading*.py, test_discovery.py); .ci/run runs the README's test command."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from helpers import ALL_CATALOG, CATALOG, DEFAULT_TOOL_NAMES, DOCS, doc_prose
from telnyx_numbers_mcp import cli
from telnyx_numbers_mcp.config import ENV_VARS, SECRET_SOURCES

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = sorted(DOCS.glob("*.md"))
CHECKED = [README, *PAGES, ROOT / "examples" / "README.md"]  # whose links must resolve

FENCED = re.compile(r"^ {0,3}(`{3,}|~{3,})[^\n]*\n.*?^ {0,3}\1[ \t]*$", re.M | re.S)
CODE_SPAN = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.S)
LINK = re.compile(r"\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^()\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.M)
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"", re.I)


def _without_code_blocks(text: str) -> str:
    return FENCED.sub("", text)


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading (github-slugger over the rendered text): link text only, no markup,
    lower case, punctuation dropped (letters, digits, `_`, `-` and spaces stay), each space a `-`."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").replace("*", "")
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every anchor of a Markdown file: its headings' slugs (a repeated one gets -1, -2, ...) and HTML anchors."""
    text = _without_code_blocks(page.read_text())
    found: set[str] = set(HTML_ANCHOR.findall(text))
    seen: dict[str, int] = {}
    for _, heading in HEADING.findall(text):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def links(page: Path) -> list[str]:
    """The targets of the page's Markdown links, outside code blocks and code spans."""
    return LINK.findall(CODE_SPAN.sub("", _without_code_blocks(page.read_text())))


def local_target(page: Path, target: str) -> tuple[Path, str] | None:
    """(file, anchor) of a relative link; None for a link with a scheme (https:, mailto:)."""
    if re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", target):
        return None
    path, _, anchor = target.partition("#")
    return ((page.parent / unquote(path)).resolve() if path else page), unquote(anchor)


def test_the_slugs_are_githubs() -> None:
    assert slug("The number's whole life") == "the-numbers-whole-life"
    assert slug("With `host-confirm`, your host must gate `confirm_action`") == (
        "with-host-confirm-your-host-must-gate-confirm_action"
    )
    assert slug("Errors, and the official SDK's own tests") == "errors-and-the-official-sdks-own-tests"
    assert slug("Use it from your [MCP](https://x) client") == "use-it-from-your-mcp-client"
    assert slug("stdio and HTTP") == "stdio-and-http"


def test_the_readme_is_a_front_page_of_at_most_250_lines() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= 250, len(lines)
    headings = [h for _, h in HEADING.findall(_without_code_blocks(README.read_text()))]
    assert headings[:2] == ["telnyx-numbers-mcp", "Try it"], headings
    for wanted in ("Run the tests", "Use it from your MCP client", "Where to read on"):
        assert wanted in headings, wanted


def test_every_docs_page_is_linked_from_the_readme() -> None:
    assert len(PAGES) >= 8, PAGES
    targets = {t[0] for t in (local_target(README, link) for link in links(README)) if t is not None}
    unlinked = [p.name for p in PAGES if p.resolve() not in targets]
    assert not unlinked, f"docs/ pages the README does not link: {unlinked}"
    read_on = README.read_text().split("## Where to read on", 1)[1]
    assert all(f"(docs/{p.name})" in read_on for p in PAGES), "each page belongs in 'Where to read on'"


@pytest.mark.parametrize("page", CHECKED, ids=[p.relative_to(ROOT).as_posix() for p in CHECKED])
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in links(page):
        local = local_target(page, target)
        if local is None:
            continue
        path, anchor = local
        if not path.is_relative_to(ROOT) or not path.exists():
            broken.append(f"{target}: no such file")
        elif anchor and (path.suffix != ".md" or anchor not in anchors(path)):
            broken.append(f"{target}: no heading #{anchor} in {path.relative_to(ROOT)}")
    assert not broken, broken


def test_a_broken_link_or_anchor_is_found(tmp_path: Path) -> None:
    """The link check itself: a missing file, a missing heading and a link inside code are told apart."""
    (tmp_path / "a.md").write_text("# Top\n\n## Second part\n\n```\n# not a heading\n[x](gone.md)\n```\n")
    page = tmp_path / "b.md"
    page.write_text("[ok](a.md#second-part) [bad](a.md#not-a-heading) [gone](nowhere.md) `[code](c.md)`\n")
    assert links(page) == ["a.md#second-part", "a.md#not-a-heading", "nowhere.md"]
    assert anchors(tmp_path / "a.md") == {"top", "second-part"}


def test_the_counts_the_docs_state_are_the_catalogs() -> None:
    default, everything, opt_in = len(CATALOG), len(ALL_CATALOG), len(ALL_CATALOG) - len(CATALOG)
    prose = " ".join([" ".join(README.read_text().split()), *(doc_prose(p.name) for p in PAGES)])
    operations = re.findall(r"\b(\d[\d,]*)((?:[ -](?:Telnyx|number|default|more))*)[ -]operations?\b", prose)
    assert len(operations) >= 8, operations  # the pattern still finds the counts
    for count, words in operations:  # "29 more operations" are the opt-in ones; otherwise the default or all
        allowed = {opt_in} if "more" in words else {default} if "default" in words else {default, everything}
        assert int(count.replace(",", "")) in allowed, (count, words)
    for count in re.findall(r"\b(\d+) opt-in\b", prose):
        assert int(count) == opt_in, count
    readme = " ".join(README.read_text().split())
    assert f"The {default} Telnyx number operations a default install offers" in readme
    assert f"the demo's {len(DEFAULT_TOOL_NAMES)} tools" in readme
    assert f"{opt_in} more operations" in readme
    toolsets = {t.toolset for t in ALL_CATALOG}
    default_toolsets = {t.toolset for t in CATALOG}
    numbers = {9: "nine", 10: "ten", 11: "eleven", 12: "twelve"}
    configuration = doc_prose("configuration.md")
    assert f"| the {default} |" in configuration
    assert f"`default` the {numbers[len(default_toolsets)]} a default install offers" in configuration
    assert f"all {2 ** len(toolsets):,} toolset selections" in doc_prose("agent-view.md")
    assert f"(the {default} operations and the {opt_in} opt-in ones" in doc_prose("tools.md")


def _settings_table() -> list[list[str]]:
    text = (DOCS / "configuration.md").read_text()
    table = text.split("| Flag | Environment | Default | What it does |", 1)[1].split("\n\n", 1)[0]
    rows = [line for line in table.splitlines()[1:] if line.startswith("|")]
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows]


def test_every_setting_is_in_the_configuration_table() -> None:
    rows = _settings_table()
    assert rows and all(len(row) == 4 for row in rows), rows
    flags = {f for row in rows for f in re.findall(r"`(--[a-z][a-z-]*)", row[0])}
    variables = {v for row in rows for v in re.findall(r"`([A-Z][A-Z0-9_]+)(?:=[^`]*)?`", row[1])}
    offered = {
        option
        for action in cli.parser()._actions
        if action.help != "==SUPPRESS==" and action.dest not in ("help", "version", "command")
        for option in action.option_strings
    }
    assert offered - flags == set(), "flags --help shows that docs/configuration.md leaves out"
    assert flags - offered == set(), "flags in docs/configuration.md that --help does not have"
    known = set(ENV_VARS.values()) | {var for _, env, env_file in SECRET_SOURCES.values() for var in (env, env_file)}
    assert set(ENV_VARS.values()) - variables == set(), "environment variables docs/configuration.md leaves out"
    assert variables - known == set(), "environment variables in docs/configuration.md that no setting reads"


def test_the_project_layout_names_every_module() -> None:
    layout = (DOCS / "development.md").read_text().split("## Project layout", 1)[1]
    package = ROOT / "server" / "telnyx_numbers_mcp"
    names = [
        p.name + ("/" if p.is_dir() else "")
        for p in sorted(package.iterdir())
        if not p.name.startswith(("__", ".")) and p.name != "tool_specs" and (p.suffix == ".py" or p.is_dir())
    ]
    missing = [n for n in names if not re.search(rf"(?<![\w/]){re.escape(n)}", layout)]
    assert not missing, f"modules the layout in docs/development.md leaves out: {missing}"
