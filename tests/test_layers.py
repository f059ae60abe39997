"""The package's import graph: layers that point one way, no cycles, and a child that imports
nothing of the grader.

Every ``import`` of every module is read from its source (``ast``), those inside functions too, so
an import hidden in a function to dodge a cycle is seen like any other.
"""

from __future__ import annotations

import ast
import graphlib
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "autograder"

#: The layers, lowest first: one folder of the package each. A module may import its own folder or
#: those below, never one above; its folder is its layer (docs/architecture.md says why each is where).
FOLDERS: list[tuple[str, str]] = [
    ("core", "the model of the course: curriculum, settings, problems, references, report, formats"),
    ("sandbox", "processes that run student code, seen from the trusted side, and the proxy to them"),
    ("checks", "the checks, as pytest tests"),
    ("grading", "a grading run: its context, the pytest plugin, grade()"),
    ("render", "renderings of a report: terminal, HTML pages, the similarity page"),
    ("course", "what students receive, built from the single source: stubs, notebooks, hints"),
    ("learner", "the learner's commands"),
    ("instructor", "the instructor's tools for a whole class"),
    ("integrations", "nbgrader and Gradescope"),
    ("cli", "the command line"),
]
#: Modules outside the folders: the package's entry points, above every folder. The aliases keep
#: old import paths working (released notebooks, nbgrader_config.py files, Gradescope bundles).
ENTRY_POINTS = {"autograder", "autograder.__main__"}
ALIASES = {
    "autograder.selfcheck": "autograder.learner.selfcheck",
    "autograder.progress": "autograder.learner.progress",
    "autograder.nbgrader_course": "autograder.integrations.nbgrader.course",
    "autograder.nbgrader_preprocessors": "autograder.integrations.nbgrader.preprocessors",
    "autograder.gradescope": "autograder.integrations.gradescope",
}
#: (plain `pytest autograder/checks` loads the plugin through checks/conftest.py: it sits with grading)
PLACED = {"autograder.checks.conftest": "grading"}
LAYERS: list[tuple[str, set[str]]] = [
    (folder, {f"autograder.{folder}"} | {m for m, f in PLACED.items() if f == folder}) for folder, _ in FOLDERS
] + [("entry points", ENTRY_POINTS | set(ALIASES))]
#: The untrusted side: it runs under ``python -I`` and imports nothing of the package (only its own
#: siblings, the standard library, numpy and torch).
CHILD = "autograder.child"
CHILD_MAY_IMPORT = {"numpy", "torch"}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str, name: str, is_package: bool) -> list[tuple[str, int]]:
    """(module imported, line) for every import in the source, relative ones resolved."""
    out = []
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from pkg import sub` may name a submodule: record both, resolve() keeps what exists
            out.append((target, node.lineno))
            out += [(f"{target}.{alias.name}", node.lineno) for alias in node.names]
    return out


def graph(root: Path) -> dict[str, dict[str, int]]:
    """module -> {module of the package it imports: line}."""
    sources = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    top = root.name
    edges: dict[str, dict[str, int]] = {}
    for name, path in sources.items():
        found = {}
        for target, line in imports_of(path.read_text(), name, path.name == "__init__.py"):
            if target.split(".")[0] != top:
                continue
            while target not in sources and "." in target:  # a name inside a module: the module
                target = target.rpartition(".")[0]
            # (a module's own packages are imported before it, whatever it says: no dependency)
            if target != name and not name.startswith(target + ".") and not (target == top and found):
                found.setdefault(target, line)
        edges[name] = found
    return edges


def layer_of(name: str, layers=LAYERS) -> int | None:
    """The layer that names the module, else the one that names a package above it."""
    for i, (_, members) in enumerate(layers):
        if name in members:
            return i
    for i, (_, members) in enumerate(layers):
        if any(name.startswith(m + ".") for m in members if m != "autograder"):
            return i
    return None


def test_every_module_is_in_a_folder_named_for_its_role(edges):
    """Outside the folders only the entry points: the package, ``__main__`` and the aliases."""
    folders = {f for f, _ in FOLDERS} | {"child"}
    loose = [
        m
        for m in edges
        if m not in ENTRY_POINTS | set(ALIASES) and m.split(".")[1:2] != [] and m.split(".")[1] not in folders
    ]
    assert loose == [], f"put these modules in the folder of their role: {loose}"
    assert sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__") == sorted(folders)


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_an_alias_is_the_module_it_names(alias):
    """Thin: a docstring and the module itself put in its place (``sys.modules``), so an object or a
    patch reached through the old path is the same as through the new (a copy of names would not be)."""
    import importlib

    path = PACKAGE / f"{alias.split('.')[1]}.py"
    code = [line for line in ast.parse(path.read_text()).body if not isinstance(line, ast.Expr)]
    assert len(code) <= 4, f"{path.name}: an alias holds no code of its own"
    assert importlib.import_module(alias) is importlib.import_module(ALIASES[alias])


def upward_imports(edges, layers=LAYERS) -> list[str]:
    bad = []
    for name, targets in edges.items():
        if name == CHILD or name.startswith(CHILD + "."):
            continue
        here = layer_of(name, layers)
        for target, line in targets.items():
            there = layer_of(target, layers)
            if there is not None and here is not None and there > here:
                bad.append(f"{name}:{line} imports {target} ({layers[there][0]}, above {layers[here][0]})")
    return bad


def cycles(edges) -> list[str]:
    try:
        tuple(graphlib.TopologicalSorter({k: set(v) for k, v in edges.items()}).static_order())
    except graphlib.CycleError as exc:
        return [" -> ".join(exc.args[1])]
    return []


@pytest.fixture(scope="module")
def edges():
    return graph(PACKAGE)


def test_every_module_has_a_layer(edges):
    homeless = [m for m in edges if layer_of(m) is None and not (m == CHILD or m.startswith(CHILD + "."))]
    assert not homeless, f"add these modules to a layer in tests/test_layers.py: {homeless}"


def test_no_module_imports_a_layer_above_it(edges):
    assert upward_imports(edges) == []


def test_the_import_graph_has_no_cycle(edges):
    assert cycles(edges) == []


def test_the_child_imports_nothing_of_the_package():
    """It runs as a private package (``_kit_child``) under ``python -I``: an import of the grader would
    fail there, or hand student code the grader's modules."""
    bad = []
    for path in sorted((PACKAGE / "child").rglob("*.py")):
        name = module_name(path, PACKAGE)
        for target, line in imports_of(path.read_text(), name, path.name == "__init__.py"):
            top = target.split(".")[0]
            if target == CHILD or target.startswith(CHILD + "."):
                continue
            if top == "autograder" or (top not in sys.stdlib_module_names and top not in CHILD_MAY_IMPORT):
                bad.append(f"{name}:{line} imports {target}")
    assert bad == []


def test_the_checker_sees_an_upward_import_a_hidden_one_and_a_cycle(tmp_path):
    """The rules above can fail: a fake package that breaks each of them is caught, by folder."""
    pkg = tmp_path / "autograder"
    for folder in ("child", "core", "sandbox", "cli"):
        (pkg / folder).mkdir(parents=True)
        (pkg / folder / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "core" / "settings.py").write_text("def f():\n    from ..cli import main  # hidden in a function\n")
    (pkg / "cli" / "main.py").write_text("from ..core.settings import f\n")
    (pkg / "core" / "report.py").write_text("from ..sandbox import proxy\n")
    (pkg / "sandbox" / "proxy.py").write_text("import autograder.core.report\n")
    edges = graph(pkg)
    assert edges["autograder.core.settings"] == {"autograder.cli": 2, "autograder.cli.main": 2}
    assert edges["autograder.sandbox.proxy"] == {"autograder.core.report": 1}
    up = upward_imports(edges)
    assert any("autograder.core.settings:2 imports autograder.cli.main (cli, above core)" in b for b in up), up
    assert any("autograder.core.report:1 imports autograder.sandbox.proxy (sandbox, above core)" in b for b in up), up
    assert cycles(edges)


def test_a_new_module_takes_its_folders_layer_without_being_listed():
    assert layer_of("autograder.sandbox.some_new_module") == layer_of("autograder.sandbox")
    assert layer_of("autograder.instructor.roster") > layer_of("autograder.render.html")
    assert layer_of("autograder.checks.conftest") == layer_of("autograder.grading.run")
