"""Every command the documentation shows still parses, and every relative link still lands.

    pytest tests/test_docs_commands.py -q

Reads README.md, docs/**/*.md and the packages' READMEs (ctat/README.md, baselines/*/README.md,
results/README.md); takes each shell command of a fenced code block (and each inline
`python -m bench ...` span of the prose) that starts with ``python -m bench``, ``ctat-bench``,
``python -m ctat``, ``python -m baselines.patn`` or ``python -m baselines.pg2``; joins
backslash-continued lines, drops comments, redirections and the other commands of a pipeline
or ``&&`` chain; builds that CLI's argparse parser and checks, without running anything, that
the subcommand's ``--help`` lists every option shown under its exact name (argparse would accept
an abbreviation, so a renamed option could hide behind its old prefix) and that ``parse_args``
accepts the whole command (code blocks only: prose spans may show a fragment). Placeholders
need no substitution: ``<run>`` loses its brackets, ``...`` (elided arguments) and the brackets
of ``[--optional VALUE]`` are dropped. The usage examples of the modules' docstrings and
``--help`` epilogs (indented lines of multi-line strings in bench/, ctat/, baselines/) are
checked the same way. Backticked ``--options`` of the prose must each be an option of one of
our CLIs.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOC_GLOBS = ("README.md", "docs/**/*.md", "*/README.md", "*/*/README.md")
CODE_PACKAGES = ("bench", "ctat", "baselines")
README_MAX_BYTES = 8 * 1024


def _bench_parser() -> argparse.ArgumentParser:
    from bench.cli import build_parser

    return build_parser()


def _ctat_parser(prog: str = "python -m ctat") -> argparse.ArgumentParser:
    from ctat.cli import build_parser

    return build_parser(prog)


def _pg2_parser() -> argparse.ArgumentParser:
    from baselines.pg2.cli import build_parser

    return build_parser()


# command prefix (as tokens after the interpreter) -> how that CLI builds its parser
CLIS = {
    ("-m", "bench"): _bench_parser,
    ("-m", "ctat"): _ctat_parser,
    ("-m", "baselines.patn"): lambda: _ctat_parser("python -m baselines.patn"),
    ("-m", "baselines.pg2"): _pg2_parser,
}
ENTRY_POINTS = {"ctat-bench": ("-m", "bench")}  # pyproject's [project.scripts]
INTERPRETERS = ("python", "python3")
SHELL_BLOCKS = {"", "bash", "sh", "shell", "console", "zsh", "text"}
CONTROL = {"&&", "||", ";", "|", "&", "|&"}
PREFIX = r"(?:python3? -m (?:bench|ctat|baselines\.patn|baselines\.pg2)|ctat-bench)"
MENTION = re.compile(rf"(?<![\w./-]){PREFIX}(?![\w.-])")  # a line that may hold a command
INLINE = re.compile(rf"`({PREFIX}(?:\s[^`]*)?)`")  # a command span of the prose


@dataclass(frozen=True)
class DocCommand:
    """One command shown in a document: where, as written, and what its CLI receives."""

    where: str  # "README.md:12"
    text: str  # the logical line as shown (continuations joined)
    cli: tuple[str, ...]  # a key of CLIS
    argv: tuple[str, ...]  # the arguments after the prefix
    inline: bool  # a span of the prose (may be a fragment)


# -- extraction ----------------------------------------------------------------------------------


def fenced_blocks(text: str):
    """(first line number, info string, lines) of each fenced code block; indented blocks and
    text outside fences are not code here."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = re.match(r"^\s*(`{3,}|~{3,})\s*(\S*)", lines[i])
        if not opening:
            i += 1
            continue
        fence, info = opening.group(1), opening.group(2).lower()
        body, start = [], i + 2
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        yield start, info, body
        i += 1


def prose_lines(text: str):
    """(line number, line) of the text outside fenced code blocks."""
    inside, fence = False, ""
    for number, line in enumerate(text.splitlines(), 1):
        marker = re.match(r"^\s*(`{3,}|~{3,})", line)
        if marker and (not inside or line.strip().startswith(fence)):
            inside, fence = (not inside), marker.group(1)
            continue
        if not inside:
            yield number, line


def logical_lines(start: int, lines: list[str]):
    """(line number, text): backslash-continued lines joined into one."""
    pending, first = "", start
    for offset, line in enumerate(lines):
        if not pending:
            first = start + offset
        stripped = line.rstrip()
        if pending:
            line = line.lstrip()
        if stripped.endswith("\\"):
            pending += (stripped[:-1].strip() if pending else stripped[:-1]) + " "
            continue
        yield first, pending + line
        pending = ""
    if pending:
        yield first, pending


def shell_commands(line: str):
    """The simple commands of one shell line: comments dropped, split at ``&&``, ``|``, ``;``,
    each cut at its first redirection; placeholders ``<name>`` keep their name only."""
    line = re.sub(r"^\s*\$\s+", "", line)  # a prompt
    line = re.sub(r"<([A-Za-z][\w.-]*)>", r"\1", line)  # results/<run> -> results/run
    line = re.sub(r"(?<=\s)\d(?=>)", "", line)  # 2>err: the descriptor goes with the redirection
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError as exc:  # an unclosed quote
        raise ValueError(f"cannot split {line!r}: {exc}") from None
    command: list[str] = []
    for token in tokens + [";"]:
        if token in CONTROL:
            if command:
                yield command
            command = []
        else:
            command.append(token)


def _redirection(token: str) -> bool:
    return bool(token) and set(token) <= set("<>&")


def as_doc_command(tokens: list[str], where: str, text: str, inline: bool):
    """A DocCommand when ``tokens`` run one of our CLIs, else None."""
    while tokens and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", tokens[0]):  # VAR=value prefixes
        tokens = tokens[1:]
    if not tokens:
        return None
    if tokens[0] in ENTRY_POINTS:
        cli, rest = ENTRY_POINTS[tokens[0]], tokens[1:]
    elif tokens[0] in INTERPRETERS and tuple(tokens[1:3]) in CLIS:
        cli, rest = tuple(tokens[1:3]), tokens[3:]
    else:
        return None
    argv: list[str] = []
    for token in rest:
        if _redirection(token):
            break
        if token.startswith("["):  # [--optional VALUE]
            token = token[1:]
        if token.endswith("]") and "[" not in token:
            token = token[:-1]
        if token and token != "...":  # ... elides arguments
            argv.append(token)
    return DocCommand(where=where, text=text.strip(), cli=cli, argv=tuple(argv), inline=inline)


def extract_commands(text: str, name: str) -> list[DocCommand]:
    """Every command of our CLIs in one Markdown document."""
    found = []
    for start, info, body in fenced_blocks(text):
        if info not in SHELL_BLOCKS:
            continue
        for number, line in logical_lines(start, body):
            if not MENTION.search(line):  # output, file trees: not shell syntax
                continue
            for tokens in shell_commands(line):
                command = as_doc_command(tokens, f"{name}:{number}", line, inline=False)
                if command is not None:
                    found.append(command)
    for number, line in prose_lines(text):
        for span in INLINE.findall(line):
            for tokens in shell_commands(span):
                command = as_doc_command(tokens, f"{name}:{number}", span, inline=True)
                if command is not None:
                    found.append(command)
    return found


def help_strings(source: str):
    """(line number, text) of a Python module's docstring and its module-level multi-line string
    constants (such as an argparse epilog): the usage examples of ``help()`` and ``--help``."""
    for node in ast.parse(source).body:
        value = node.value if isinstance(node, (ast.Expr, ast.Assign)) else None
        if isinstance(value, ast.Constant) and isinstance(value.value, str) \
                and "\n" in value.value:
            yield value.lineno, value.value


def extract_help_commands(source: str, name: str) -> list[DocCommand]:
    """Commands of our CLIs in a module's help strings; a description after three or more
    spaces (an epilog's second column) is not part of the command."""
    found = []
    for start, text in help_strings(source):
        for number, line in logical_lines(start, text.splitlines()):
            if not (line[:1].isspace() and MENTION.match(line.strip())):  # examples: indented
                continue
            line = re.split(r"\s{3,}", line.strip(), maxsplit=1)[0]
            for tokens in shell_commands(line):
                command = as_doc_command(tokens, f"{name}:{number}", line, inline=False)
                if command is not None:
                    found.append(command)
    return found


def code_files(root: Path = REPO) -> list[Path]:
    return sorted(p for package in CODE_PACKAGES for p in (root / package).rglob("*.py"))


def doc_files(root: Path = REPO) -> list[Path]:
    files = set()
    for pattern in DOC_GLOBS:
        for path in root.glob(pattern):
            if path.is_file() and not any(p.startswith(".") for p in path.relative_to(root).parts):
                files.add(path)
    return sorted(files)


def all_commands(root: Path = REPO) -> list[DocCommand]:
    return [c for path in doc_files(root)
            for c in extract_commands(path.read_text(encoding="utf-8"),
                                      path.relative_to(root).as_posix())]


# -- checking ------------------------------------------------------------------------------------


def _subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def resolve(parser: argparse.ArgumentParser, argv: tuple[str, ...]):
    """(the (sub)parser the arguments end up in, its name, a problem or None)."""
    name = parser.prog
    rest = list(argv)
    while (sub := _subparsers(parser)) is not None:
        words = [i for i, t in enumerate(rest) if not t.startswith("-")]
        if not words:
            return parser, name, None
        word = rest[words[0]]
        if word not in sub.choices:
            return parser, name, (f"{name}: unknown subcommand {word!r} "
                                  f"(known: {', '.join(sub.choices)})")
        parser, name, rest = sub.choices[word], f"{name} {word}", rest[words[0] + 1:]
    return parser, name, None


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def problems(command: DocCommand) -> list[str]:
    """What the CLI would reject in a documented command; empty when it parses."""
    parser = CLIS[command.cli]()
    target, name, problem = resolve(parser, command.argv)
    if problem:
        return [problem]
    found = []
    options = {s for action in target._actions for s in action.option_strings}
    help_text = target.format_help()
    for token in command.argv:
        if token == "--":
            break
        if not token.startswith("-") or token == "-" or _is_number(token):
            continue
        option = token.split("=", 1)[0]
        if option not in options:
            found.append(f"{name}: no option {option} (options: {', '.join(sorted(options))})")
        elif not re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", help_text):
            found.append(f"{name} --help does not list {option}")
    if command.inline or found or {"-h", "--help"} & set(command.argv):
        return found
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            parser.parse_args(list(command.argv))
    except SystemExit as exc:
        if exc.code:
            found.append(stderr.getvalue().strip().splitlines()[-1])
    return found


def every_option() -> set[str]:
    """The option strings of every subcommand of every CLI of ours."""
    found: set[str] = set()
    pending = [factory() for factory in CLIS.values()]
    while pending:
        parser = pending.pop()
        for action in parser._actions:
            found.update(action.option_strings)
            if isinstance(action, argparse._SubParsersAction):
                pending.extend(action.choices.values())
    return found


# options the prose names that belong to other tools: option -> the file that defines it here
# (None: upstream code, not in this repository)
FOREIGN_OPTIONS = {
    "--run-slow": "conftest.py",  # pytest
    "--refresh": ".ci/regression",
    "--refresh-report": ".ci/regression",
    "--no_dropout": None,  # PATN's own train.py
    "--standalone": None,  # torchrun (torch.distributed.run)
    "--nproc-per-node": None,  # torchrun
    "--benchmark-only": "tox.ini",  # pytest-benchmark, tox's bench environment
}


def unknown_prose_options(path: Path, known: set[str]) -> list[str]:
    """Backticked ``--options`` of the prose that no CLI of ours (nor a listed tool) has."""
    found = []
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        for span in re.findall(r"`([^`]+)`", line):
            for option in re.findall(r"(?<![\w-])(--[A-Za-z][\w-]*)", span):
                if option not in known and option not in FOREIGN_OPTIONS:
                    found.append(f"{path.relative_to(REPO)}:{number}: {option} (in `{span}`)")
    return found


# -- links ---------------------------------------------------------------------------------------

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def heading_anchors(text: str) -> set[str]:
    """GitHub's anchors of a document's headings: lower case, punctuation dropped, spaces to -."""
    anchors = set()
    for _, line in prose_lines(text):
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            title = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.group(1)).lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def broken_links(path: Path, root: Path = REPO) -> list[str]:
    """Relative links of a document whose file or heading does not exist."""
    text = path.read_text(encoding="utf-8")
    found = []
    for number, line in prose_lines(text):
        for target in LINK.findall(line):
            if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            where = f"{path.relative_to(root)}:{number}: {target}"
            if not linked.exists():
                found.append(f"{where}: no such file")
            elif anchor and linked.suffix == ".md" and \
                    anchor not in heading_anchors(linked.read_text(encoding="utf-8")):
                found.append(f"{where}: no heading with that anchor in {linked.name}")
    return found


# -- the checks ----------------------------------------------------------------------------------

COMMANDS = all_commands()
HELP_COMMANDS = [c for path in code_files()
                 for c in extract_help_commands(path.read_text(encoding="utf-8"),
                                                path.relative_to(REPO).as_posix())]


@pytest.mark.parametrize("command", COMMANDS, ids=[c.where for c in COMMANDS])
def test_documented_command_parses(command):
    assert problems(command) == [], f"{command.where}: {command.text}"


@pytest.mark.parametrize("command", HELP_COMMANDS, ids=[c.where for c in HELP_COMMANDS])
def test_command_in_a_module_docstring_or_epilog_parses(command):
    assert problems(command) == [], f"{command.where}: {command.text}"


def test_the_docs_show_commands_of_every_cli():
    """Guards the extractor: an empty harvest would make the check above pass vacuously."""
    names = {path.relative_to(REPO).as_posix() for path in doc_files()}
    assert {"README.md", "docs/README.md", "ctat/README.md", "baselines/patn/README.md",
            "baselines/pg2/README.md", "results/README.md"} <= names
    assert {c.cli for c in COMMANDS} == set(CLIS)
    subcommands = {(c.cli, c.argv[0]) for c in COMMANDS if c.argv and not c.inline}
    for word in ("run", "list", "data", "weights", "compare", "report", "profile"):
        assert (("-m", "bench"), word) in subcommands, word
    assert len([c for c in COMMANDS if not c.inline]) >= 50
    assert any(c.inline for c in COMMANDS)
    assert {c.cli for c in HELP_COMMANDS} == set(CLIS)
    assert any(c.where.startswith("bench/cli.py") for c in HELP_COMMANDS)


def test_readme_is_a_front_page():
    readme = REPO / "README.md"
    assert len(readme.read_bytes()) <= README_MAX_BYTES
    text = readme.read_text(encoding="utf-8")
    # the two commands, exactly as a fresh clone and CI (.ci/run) run them
    assert "pip install -e . && python -m bench run" in text
    assert "pip install tox && tox" in text
    assert "pip install tox && tox" in (REPO / ".ci" / "run").read_text(encoding="utf-8")
    for page in ("docs/README.md", "docs/protocols.md", "docs/models.md", "docs/data.md",
                 "docs/reports.md", "docs/weights.md", "docs/DESIGN.md"):
        assert f"]({page}" in text, page


def test_options_named_in_the_prose_exist():
    """`--option` spans outside code blocks (option lists such as docs/run.md's): each must be
    an option of one of our CLIs, or of a tool listed with the file that defines it."""
    known = every_option()
    assert [p for p in doc_files() for p in unknown_prose_options(p, known)] == []
    for option, where in FOREIGN_OPTIONS.items():
        if where is not None:
            assert option in (REPO / where).read_text(encoding="utf-8"), (option, where)


def test_prose_option_check_catches_a_renamed_option(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    doc = tmp_path / "page.md"
    doc.write_text("Use `--limit N` or `--subset N --seed S`, not `--sample N`.\n"
                   "```bash\npython -m bench run --not-prose\n```\n")
    assert unknown_prose_options(doc, every_option()) == ["page.md:1: --sample (in `--sample N`)"]


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_relative_links_resolve(path):
    assert broken_links(path) == []


# -- the checker itself --------------------------------------------------------------------------

SAMPLE = """\
Prose with `python -m bench run --limit 5` inline, and `python -m bench` alone.

```bash
pip install -e . && python -m bench run   # the main command
python -m bench report results/<run> --out reports/paper \\
    --grid disagreement [--grid-rows 8]
python -m bench profile --json > efficiency.jsonl 2>err.txt
python -m bench run ... --models folder:x=/r/x,panels=3 | tee log
BENCH_CACHE=/tmp/c ctat-bench list models
python -m bench.efficiency.worker
```

```python
subprocess.run("python -m bench run --not-checked")
```
"""


def test_extractor_reads_shell_blocks_and_prose_spans():
    commands = extract_commands(SAMPLE, "sample.md")
    assert [(c.where, c.argv, c.inline) for c in commands] == [
        ("sample.md:4", ("run",), False),
        ("sample.md:5", ("report", "results/run", "--out", "reports/paper", "--grid",
                         "disagreement", "--grid-rows", "8"), False),
        ("sample.md:7", ("profile", "--json"), False),
        ("sample.md:8", ("run", "--models", "folder:x=/r/x,panels=3"), False),
        ("sample.md:9", ("list", "models"), False),
        ("sample.md:1", ("run", "--limit", "5"), True),
        ("sample.md:1", (), True),
    ]
    assert all(problems(c) == [] for c in commands)


HELP_SAMPLE = '''"""Usage:

    python -m bench run --limit 5                     # a comment
    python -m bench report results/<run> [results/<run2> ...] --out reports/<name>
"""

EPILOG = """examples:
  python -m bench compare results/a --models x,y   paired test per metric
  python -m bench run --models folder:p=/r/p --protocol patn-strips \\\\
      --dataset market   PATN's strips
  not python -m bench run
"""
'''


def test_help_strings_yield_their_commands_without_descriptions():
    commands = extract_help_commands(HELP_SAMPLE, "m.py")
    assert [(c.where, c.argv) for c in commands] == [
        ("m.py:3", ("run", "--limit", "5")),
        ("m.py:4", ("report", "results/run", "results/run2", "--out", "reports/name")),
        ("m.py:8", ("compare", "results/a", "--models", "x,y")),
        ("m.py:9", ("run", "--models", "folder:p=/r/p", "--protocol", "patn-strips",
                    "--dataset", "market")),
    ]
    assert all(problems(c) == [] for c in commands)


def _command(text: str, inline: bool = False) -> DocCommand:
    (tokens,) = list(shell_commands(text))
    command = as_doc_command(tokens, "test", text, inline)
    assert command is not None
    return command


@pytest.mark.parametrize("text, needle", [
    ("python -m bench run --modles warp", "no option --modles"),  # misspelt
    ("python -m bench run --mod warp", "no option --mod"),  # argparse would take the prefix
    ("python -m bench profile --resolutions 128x64", "no option --resolutions"),  # renamed
    ("python -m bench report results/x --dry-run", "python -m bench report: no option --dry-run"),
    ("python -m bench compare A B --tolerance=fid", "expected KEY=ABS or KEY=REL%"),  # bad value
    ("python -m bench profile --dtype fp64", "invalid choice: 'fp64'"),
    ("python -m bench rnu", "unknown subcommand 'rnu'"),
    ("python -m bench data chek market", "unknown subcommand 'chek'"),
    ("python -m baselines.pg2 convert only-one-path", "the following arguments are required"),
    ("python -m baselines.patn train --no-atention", "no option --no-atention"),
    ("ctat-bench weights add a b c", "unrecognized arguments"),
])
def test_checker_rejects_what_the_cli_would(text, needle):
    found = problems(_command(text))
    assert found and needle in " ".join(found), found


def test_checker_notices_an_option_the_help_hides(monkeypatch):
    def hidden_confidence():
        parser = _bench_parser()
        run = _subparsers(parser).choices["run"]
        for action in run._actions:
            if "--confidence" in action.option_strings:
                action.help = argparse.SUPPRESS
        return parser

    monkeypatch.setitem(CLIS, ("-m", "bench"), hidden_confidence)
    assert problems(_command("python -m bench run --confidence 0.9")) == [
        "python -m bench run --help does not list --confidence"]


def test_prose_spans_are_checked_for_options_only():
    assert problems(_command("python -m baselines.pg2 convert", inline=True)) == []
    assert problems(_command("python -m baselines.pg2 convert", inline=False)) != []
    assert problems(_command("python -m ctat train --no-perceptul", inline=True)) != []


def test_link_checker_finds_missing_files_and_anchors(tmp_path):
    (tmp_path / "a.md").write_text("# Title\n\n## Results folders (images)\n\nx\n")
    (tmp_path / "b.md").write_text(
        "[ok](a.md#results-folders-images) [ok](a.md) [web](https://example.org/x.md)\n"
        "[gone](c.md) [bad anchor](a.md#results) [here](#b)\n\n```\n[in code](nowhere.md)\n```\n")
    assert broken_links(tmp_path / "b.md", tmp_path) == [
        "b.md:2: c.md: no such file",
        "b.md:2: a.md#results: no heading with that anchor in a.md",
        "b.md:2: #b: no heading with that anchor in b.md",
    ]


@pytest.mark.parametrize("cli", list(CLIS), ids=" ".join)
def test_top_level_help_names_every_subcommand(cli):
    parser = CLIS[cli]()
    usage = parser.format_usage()
    for name in _subparsers(parser).choices:
        assert re.search(rf"[{{,]{name}[,}}]", usage), (name, usage)
