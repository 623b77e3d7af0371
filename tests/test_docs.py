"""The docs say what ecsflow does: their commands run, their links resolve, their citations of the design exist.

Every ```sh block of README.md, docs/**/*.md and examples/*/README.md is run with bash (`-e -o pipefail`), in a
copy of the repository's `examples/` in a temporary folder, with `ecsflow` from this test's environment on PATH
and no AWS account: the blocks of one page run in order in one copy, so a page can sync, then diff. A block
that cannot run here says so on the line before it, with a reason:

    <!-- docs-test: skip="needs an AWS account" -->

and the same comment tunes a block that runs (shlex words): `exit=N` (the status expected, default 0),
`expect="text"` (repeatable: in its stdout or stderr), `absent="text"` (repeatable: in neither), `cwd=DIR`
(relative to the copy), `env=NAME=VALUE` (repeatable) and `slow` (run only with `-m slow`). The blocks between
README.md's `ci:commands` markers are `.ci/run`'s. A new block with no comment is run, so a command that no
longer works, or that needs AWS and does not say so, fails here. Shell blocks in another fence language
(```bash, ```console), or with none, are refused: they would escape the test.

The default run gives the blocks a warm `ecsflow` (tests/docs_runner.py: forked, per command, from a process
that imported ecsflow once), so that it stays short; the slow run runs every block of every page again, with
the real `ecsflow` script, as a user runs it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from docs_runner import WarmEcsflow

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), *sorted((ROOT / "examples").glob("*/README.md"))]
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.M | re.S)
DIRECTIVE = re.compile(r"^<!--\s*docs-test:(.*?)-->\s*$")
CI_COMMANDS = re.compile(r"<!-- ci:commands.*?<!-- /ci:commands -->", re.S)
SHELL_FENCES = {"bash", "shell", "console", "zsh", "shell-session", "sh-session"}
TIMEOUT = 120  # seconds for one block: a block that hangs fails instead of hanging the suite


@dataclass
class Block:
    path: Path
    line: int
    code: str
    skip: str | None = None
    slow: bool = False
    exit: int = 0
    expect: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)
    cwd: str = "."
    env: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{_name(self.path)}:{self.line}"


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _directives(lines: list[str]) -> list[str]:
    """The words of the docs-test comments on the lines right above a fence (the nearest last)."""
    words: list[str] = []
    for line in reversed(lines):
        match = DIRECTIVE.match(line.strip())
        if not match:
            break
        words = shlex.split(match.group(1)) + words
    return words


def _apply(block: Block, words: list[str]) -> Block:
    for word in words:
        key, _, value = word.partition("=")
        if key == "slow" and not value:
            block.slow = True
        elif key == "skip" and value:
            block.skip = value
        elif key == "exit" and value.isdigit():
            block.exit = int(value)
        elif key == "expect" and value:
            block.expect.append(value)
        elif key == "absent" and value:
            block.absent.append(value)
        elif key == "cwd" and value:
            block.cwd = value
        elif key == "env" and "=" in value:
            name, _, val = value.partition("=")
            block.env[name] = val
        else:
            raise ValueError(f"{block}: docs-test: {word!r} is not skip=REASON, slow, exit=N, expect=TEXT, "
                             "absent=TEXT, cwd=DIR or env=NAME=VALUE")
    return block


def blocks(path: Path) -> list[Block]:
    """The ```sh blocks of one page, with their docs-test options (see the module docstring)."""
    text = path.read_text()
    ci = [(m.start(), m.end()) for m in CI_COMMANDS.finditer(text)]
    found = []
    for match in FENCE.finditer(text):
        language = match.group(1).strip()
        line = text.count("\n", 0, match.start()) + 1
        if language in SHELL_FENCES or not language:
            raise ValueError(f"{_name(path)}:{line}: a ```{language} block: write ```sh for commands (they are "
                             "run), ```text for output")
        if language != "sh":
            continue
        block = Block(path, line, match.group(2))
        if any(start <= match.start() < end for start, end in ci):
            block.skip = ".ci/run runs the ci:commands"
            found.append(block)
            continue
        found.append(_apply(block, _directives(text[:match.start()].splitlines())))
    return found


def _pages() -> list:
    """Each page with blocks to run: its fast blocks (the default run), and all of them (the slow run)."""
    params = []
    for path in DOCS:
        runnable = [b for b in blocks(path) if not b.skip]
        name = str(path.relative_to(ROOT))
        if any(not b.slow for b in runnable):
            params.append(pytest.param(path, False, id=name))
        if runnable:
            params.append(pytest.param(path, True, id=f"{name}-all", marks=pytest.mark.slow))
    return params


def _workspace(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A copy of examples/ (without sandbox state or caches) and an environment with no AWS account in it."""
    work = tmp_path / "repo"
    shutil.copytree(ROOT / "examples", work / "examples", ignore=shutil.ignore_patterns(".ecsflow", "__pycache__"))
    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "ecsflow").is_file(), f"ecsflow is not installed beside {sys.executable}"
    (tmp_path / "home").mkdir()
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(tmp_path / "home"),
        "LANG": "C.UTF-8",
        "NO_COLOR": "1",
        "COLUMNS": "200",
        # No AWS: a block that calls AWS without --sandbox fails at once instead of using someone's account.
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    }
    return work, env


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    """`ecsflow` forked from a process that imported it once (tests/docs_runner.py), for the default run."""
    if not hasattr(os, "fork"):
        yield None
        return
    server = WarmEcsflow(tmp_path_factory.mktemp("warm"))
    yield server
    server.close()


@pytest.mark.parametrize(("page", "with_slow"), _pages())
def test_the_commands_of_a_page_run_as_shown(page: Path, with_slow: bool, tmp_path, request):
    """The default run uses the warm `ecsflow`; the slow one (every block) the real script, as a user runs it."""
    work, env = _workspace(tmp_path)
    if not with_slow and (server := request.getfixturevalue("warm")) is not None:
        env = server.environment(env)
    for block in blocks(page):
        if block.skip or (block.slow and not with_slow):
            continue
        done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block.code], cwd=work / block.cwd,
                              env={**env, **block.env}, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=TIMEOUT)
        output = done.stdout + done.stderr
        shown = f"{block}:\n{block.code}\n--- exit {done.returncode}, output:\n{output[-3000:]}"
        assert done.returncode == block.exit, shown
        for text in block.expect:
            assert text in output, f"{text!r} is not in the output of {shown}"
        for text in block.absent:
            assert text not in output, f"{text!r} is in the output of {shown}"


def test_every_shell_block_is_run_or_says_why_not():
    """Parsing every page: no ```bash block, no unknown option, and a reason for each skip."""
    for path in DOCS:
        for block in blocks(path):
            assert block.skip is None or block.skip.strip(), block
    assert any(b.skip is None for path in DOCS for b in blocks(path))


def test_a_block_the_docs_do_not_mark_is_run(tmp_path):
    page = tmp_path / "page.md"
    page.write_text('Text.\n\n<!-- docs-test: expect="x" exit=3 -->\n```sh\necho x; exit 3\n```\n\n```sh\nfalse\n```\n')
    first, second = blocks(page)
    assert (first.exit, first.expect, first.skip) == (3, ["x"], None)
    assert (second.exit, second.skip, second.code) == (0, None, "false\n")
    page.write_text("```bash\nls\n```\n")
    with pytest.raises(ValueError, match="write ```sh"):
        blocks(page)
    page.write_text("```\nls\n```\n")
    with pytest.raises(ValueError, match="write ```sh"):
        blocks(page)
    page.write_text("<!-- docs-test: sloww -->\n```sh\nls\n```\n")
    with pytest.raises(ValueError, match="not skip=REASON"):
        blocks(page)


# --- links ---------------------------------------------------------------------------------------------------

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
INLINE_CODE = re.compile(r"`[^`\n]*`")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.M)


def _prose(text: str) -> str:
    """The text outside fenced and inline code, where a link is a link."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the headings of a markdown file."""
    seen: dict[str, int] = {}
    result = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text())):
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def test_anchors_are_githubs():
    page = ROOT / "docs" / "reference" / "mapping.md"
    assert {"compose--ecs-fargate-mapping", "leaving-a-service-out-of-ecs",
            "x-ecsflow--airflow-gen-dag-and-run"} <= anchors(page)


def test_every_relative_link_resolves():
    broken = []
    for path in DOCS:
        for target in LINK.findall(_prose(path.read_text())):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            file, _, anchor = target.partition("#")
            resolved = (path.parent / file).resolve() if file else path
            where = f"{path.relative_to(ROOT)}: {target}"
            if not resolved.exists():
                broken.append(f"{where}: no such file")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{where}: no heading #{anchor} in {resolved.relative_to(ROOT)}")
    assert broken == []


# --- the design document -------------------------------------------------------------------------------------

SOURCES = [p for folder in ("ecsflow", "tests", "examples", "benchmarks", "docs") for p in (ROOT / folder).rglob("*")
           if p.suffix in {".py", ".md", ".yml", ".yaml"} and p.is_file() and "__pycache__" not in p.parts]


def test_citations_of_the_design_name_its_sections():
    numbers = set(re.findall(r"^## (\d+)\. ", (ROOT / "docs" / "design.md").read_text(), re.M))
    cited, missing = 0, []
    for path in [*SOURCES, ROOT / "README.md"]:
        text = path.read_text()
        for match in re.finditer(r"docs/design\.md,? sections? (\d+(?:(?:, | and )\d+)*)", text):
            for number in re.findall(r"\d+", match.group(1)):
                cited += 1
                if number not in numbers:
                    missing.append(f"{path.relative_to(ROOT)}: section {number}")
        # The old name, written so that this file does not hold it.
        assert ("DESIGN" + ".md") not in text, f"{path.relative_to(ROOT)} cites a file that is not in the repository"
    assert missing == []
    assert cited >= 10


# --- the commands page ---------------------------------------------------------------------------------------


def _table(text: str) -> list[list[str]]:
    """The rows of the first markdown table in text (header included), as stripped cells."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if not all(set(c) <= set("-: ") for c in cells):
                rows.append(cells)
        elif rows:
            break
    return rows


def test_the_commands_page_lists_every_option_of_every_command():
    import typer.main

    from ecsflow.cli import app

    text = (ROOT / "docs" / "reference" / "commands.md").read_text()
    shared = text.split("## Options shared by commands", 1)[1]
    groups = {row[0]: set(re.findall(r"--[a-z][a-z-]*", row[1])) for row in _table(shared)[1:]}
    matrix = _table(shared.split("Which command takes which group:", 1)[1])
    commands = matrix[0][1:]
    documented = {name: set() for name in commands}
    for row in matrix[1:]:
        for name, cell in zip(commands, row[1:], strict=True):
            if cell == "✓":
                documented[name] |= groups[row[0]]
    for section in re.split(r"^## `ecsflow ", text, flags=re.M)[1:]:
        name = section.split()[0].rstrip("`")
        documented[name] |= {m for row in _table(section)[1:] for m in re.findall(r"--[a-z][a-z-]*", row[0])}
    actual = {name: {o for p in command.params for o in p.opts if o.startswith("--")}
              for name, command in typer.main.get_command(app).commands.items()}
    assert documented == actual
