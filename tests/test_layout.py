"""The repo's own packages, the house rules on imports, and the README's quick start."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("graph", "tools", "models", "brokers", "prompts", "memory", "evals", "tests", "desk", "vocab")
ORGANS = ("models", "tools", "brokers", "memory")
FORBIDDEN = ("graph", "desk", "evals", "slack_sdk", "slack_bolt", "openai", "anthropic", "langchain_openai",
             "langchain_anthropic")
# The house's floors, top to bottom: a package imports only from the floors below it. The vocabulary is the lowest
# floor: it imports nothing of the desk's own.
FLOORS = {"desk": (), "evals": ("desk",), "graph": ("desk", "evals"),
          "vocab": tuple(p for p in PACKAGES if p != "vocab")}


@pytest.mark.parametrize("name", PACKAGES)
def test_each_top_level_package_is_the_repos_own(name):
    module = importlib.import_module(name)
    assert Path(module.__file__).resolve().is_relative_to(ROOT), f"{name} resolves to {module.__file__}"


def _imports(package: str):
    """(file, imported top-level package) for every absolute import in ``package``."""
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                yield path.relative_to(ROOT), name.split(".")[0]


@pytest.mark.parametrize("organ", ORGANS)
def test_organs_never_import_the_graph_the_shell_slack_or_an_llm_sdk(organ):
    for path, name in _imports(organ):
        assert name not in FORBIDDEN, f"{path} imports {name}"


@pytest.mark.parametrize("package", sorted(FLOORS))
def test_imports_run_one_way_down_the_floors(package):
    for path, name in _imports(package):
        assert name not in FLOORS[package], f"{path} imports {name}, a floor above it"


def _quick_start() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Quick start.*?```bash\n(.*?)```", text, re.S)
    assert block, "README needs a Quick start bash block"
    return [ln for ln in block.group(1).splitlines() if ln.strip()]


def test_readme_quick_start_has_exactly_two_commands_and_ci_runs_them():
    commands = _quick_start()
    assert len(commands) == 2
    install, tests = commands
    assert "pip install" in install and "desk run" in install
    assert "pytest" in tests
    ci = (ROOT / ".ci" / "run").read_text()
    assert install.replace("python3.11", '"$PY"') in ci or install in ci
    assert tests in ci


def test_readme_documents_every_settings_section():
    from desk.config import Settings

    text = (ROOT / "README.md").read_text()
    for section, field in Settings.model_fields.items():
        if section == "home":
            continue
        for key in field.annotation.model_fields:
            assert f"{section}.{key}" in text, f"README configuration reference misses {section}.{key}"


def _sources():
    for package in PACKAGES:
        yield from (ROOT / package).rglob("*.py")


def test_every_noqa_and_type_ignore_says_why():
    bare = re.compile(r"#\s*(noqa(:\s*[A-Z0-9, ]+)?|type:\s*ignore(\[[\w,\- ]+\])?)\s*$")
    found = [f"{p.relative_to(ROOT)}:{i}" for p in _sources()
             for i, line in enumerate(p.read_text().splitlines(), 1) if bare.search(line)]
    assert not found, f"say why after the code (`# noqa: B018 - reading it refuses a bad case`): {found}"


def test_comments_cite_documents_in_the_repository():
    cited = [f"{p.relative_to(ROOT)}:{i}" for p in _sources() for i, line in enumerate(p.read_text().splitlines(), 1)
             if re.search(r"DESIGN(\.md)? §|seeds?/\d|\bseed 00\d", line)]
    assert not cited, f"cite ARCHITECTURE.md (or a file that exists) instead: {cited}"
    sections = {m.group(1).lower() for m in re.finditer(r"^## (.+)$", (ROOT / "ARCHITECTURE.md").read_text(), re.M)}
    named = {m.group(1).lower() for p in _sources() for m in re.finditer(r"ARCHITECTURE\.md: ([A-Za-z][a-z -]+?)[,).]",
                                                                           p.read_text())}
    named = {n for n in named if not n.startswith("invariant")}
    assert named <= sections | {"reference systems"}, f"no such section in ARCHITECTURE.md: {named - sections}"


def test_the_readme_layout_table_names_every_package_folder_and_only_folders_that_exist():
    text = (ROOT / "README.md").read_text()
    table = re.search(r"## Layout\n\n(.*?)\n\n", text, re.S)
    assert table, "README needs a Layout table"
    listed = set(re.findall(r"^\| `([\w/]+)/` \|", table.group(1), re.M))
    packages = {str(p.parent.relative_to(ROOT)) for p in ROOT.glob("**/__init__.py")
                if p.parent.relative_to(ROOT).parts[0] in PACKAGES and p.parent.relative_to(ROOT).parts[0] != "tests"}
    assert packages | {"tests"} == listed, (f"README layout table misses {sorted(packages - listed)}"
                                            f" and names what is not a package {sorted(listed - packages - {'tests'})}")
