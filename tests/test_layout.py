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
