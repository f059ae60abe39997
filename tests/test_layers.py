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

#: The layers, lowest first. A module may import its own layer or those below, never one above.
LAYERS: list[tuple[str, set[str]]] = [
    (
        "settings and formats",
        {
            "autograder",
            "autograder.curriculum",
            "autograder.settings",
            "autograder.wire",
            "autograder.codec",
            "autograder.csv_safe",
            "autograder.neutralise",
            "autograder.source_text",
        },
    ),
    (
        "data and references",
        {
            "autograder.report",
            "autograder.problems",
            "autograder.reference",
            "autograder.submission",
            "autograder.roster",
            "autograder.similarity_normalise",
            "autograder.history",
            "autograder.course_file",
        },
    ),
    ("processes", {"autograder.sandbox", "autograder.proxy"}),
    ("checks", {"autograder.checks"}),  # and every module under it
    (
        "a grading run",
        {"autograder.context", "autograder.plugin", "autograder.grading", "autograder.checks.conftest"},
    ),  # (conftest: plain `pytest autograder/checks` loads the plugin)
    (
        "front ends",
        {
            "autograder.render_terminal",
            "autograder.render_html",
            "autograder.pages",  # the Jinja2 environment of every page
            "autograder.curve_text",  # a loss curve in words and numbers, for the pages
            "autograder.batch",
            "autograder.selfcheck",
            "autograder.gradescope",
            "autograder.nbgrader_course",
            "autograder.nbgrader_preprocessors",
            "autograder.nbgrader_pregrade",  # the parallel grading pass nbgrader's preprocessor reads
            "autograder.class_outputs",  # a class rerun's pages, rewritten or removed
            "autograder.lab",
            "autograder.watch",
            "autograder.build",
            "autograder.similarity",
            "autograder.similarity_html",
            "autograder.lms",
            "autograder.similarity_command",
            "autograder.lms_command",
            "autograder.lms_collect",
            "autograder.cluster",
            "autograder.cluster_worker",
            "autograder.hints",
            "autograder.progress",
            "autograder.solution",
        },
    ),
    ("command line", {"autograder.cli", "autograder.__main__"}),
]
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
            if target != name and not (target == top and found):
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
    """The rules above can fail: a fake package that breaks each of them is caught."""
    pkg = tmp_path / "autograder"
    (pkg / "child").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "settings.py").write_text("def f():\n    from .cli import x  # hidden in a function\n")
    (pkg / "cli.py").write_text("from .settings import f\n")
    (pkg / "report.py").write_text("from . import proxy\n")
    (pkg / "proxy.py").write_text("import autograder.report\n")
    edges = graph(pkg)
    assert edges["autograder.settings"] == {"autograder.cli": 2}
    assert edges["autograder.proxy"] == {"autograder.report": 1}
    up = upward_imports(edges)
    assert any("autograder.settings:2 imports autograder.cli" in b for b in up)
    assert any("autograder.report:1 imports autograder.proxy" in b for b in up)
    assert cycles(edges)
