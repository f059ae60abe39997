"""A class of twelve students for the similarity tests, built from solutions/ and tests/corpus/.

For levels 1 to 3 every function has three honest styles: the reference solution's and the two
of tests/corpus/correct/. An honest student fills the stub (assignments/) with one style per
function, chosen so that no two honest students share more than two functions' styles at a level
(students who happen to write some functions alike, as real classes do). Then:

- ``copy_a`` and ``copy_b`` hand in ``honest_0``'s and ``honest_1``'s work, disguised: every name
  they chose renamed, comments and docstrings dropped and new ones written, the functions in
  reverse order, independent statements swapped, the layout changed (unparsed, re-indented with
  tabs, blank lines added);
- ``partial`` wrote levels 1 and 3 alone and copied level 2 from ``honest_2`` (disguised);
- ``stub_only_1`` and ``-stub=only`` hand in the stubs as released; ``honest_6`` is named
  ``-honest_6`` (a spreadsheet would run it as a formula), ``copy_b`` hands level 3 in as a notebook,
  and ``honest_3``'s level 1 file holds text that would be markup in an HTML page.
"""

from __future__ import annotations

import ast
import itertools
import random
import re
from functools import cache
from pathlib import Path

from autograder.core.curriculum import LEVELS
from autograder.course.build import build_stub

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus" / "correct"
CLASS_LEVELS = (1, 2, 3)
STYLE_DIRS = {
    1: ["l1_mask_multiply_stderr", "l1_np_where_float64_loss_prints"],
    2: ["l2_matmul_sub_", "l2_mm_relu_where"],
    3: ["l3_add_alpha_zero_first", "l3_grad_none_data_update"],
}
N_HONEST = 7
HOSTILE_TEXT = "</pre><script>alert('copied')</script><img src=x onerror=alert(1)>"


def _defs(source: str) -> tuple[dict[str, str], list[str]]:
    """Top-level functions (name -> source) and import lines of a module."""
    tree = ast.parse(source)
    lines = source.splitlines()
    defs, imports = {}, []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            defs[node.name] = "\n".join(lines[first - 1 : node.end_lineno])
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(ast.get_source_segment(source, node))
    return defs, imports


def styles(level: int, style_dirs: list[str] | None = None) -> tuple[dict[str, list[str]], list[str]]:
    """Per function, its honest styles (reference first), and what they need at the top of the
    module (imports, and helpers of the corpus files that the reference does not have)."""
    module = LEVELS[level].module
    solution = (ROOT / "solutions" / f"{module}.py").read_text()
    solution = "\n".join(
        line for line in solution.splitlines() if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")
    )
    ref, imports = _defs(solution)
    out = {name: [src] for name, src in ref.items()}
    for d in style_dirs if style_dirs is not None else STYLE_DIRS[level]:
        defs, more = _defs((CORPUS / d / f"{module}.py").read_text())
        imports += more
        for name, src in defs.items():
            if name in out:
                out[name].append(src)
            else:
                imports.append(src)
    return out, list(dict.fromkeys(imports))


@cache
def stub(level: int) -> str:
    return build_stub(level)


def fill_stub(level: int, chosen: dict[str, str], imports: list[str]) -> str:
    """The stub with each function replaced by the chosen source (imports added at the top)."""
    text = stub(level)
    tree = ast.parse(text)
    lines = text.splitlines()
    for node in sorted(
        (n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))), key=lambda n: -n.lineno
    ):
        if node.name in chosen:
            lines[node.lineno - 1 : node.end_lineno] = chosen[node.name].splitlines()
    first_code = next(n.lineno for n in tree.body if not isinstance(n, ast.Expr))
    present = {ast.get_source_segment(text, n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))}
    lines[first_code - 1 : first_code - 1] = [i for i in imports if i not in present]
    return "\n".join(lines) + "\n"


def honest_codes(n_functions: int, n: int, seed: int) -> list[tuple[int, ...]]:
    """``n`` style choices (one per function, 3 styles) sharing at most two functions pairwise."""
    rng = random.Random(seed)
    words = list(itertools.product(range(3), repeat=n_functions))
    rng.shuffle(words)
    chosen: list[tuple[int, ...]] = []
    for w in words:
        if all(sum(a == b for a, b in zip(w, c)) <= 2 for c in chosen):
            chosen.append(w)
        if len(chosen) == n:
            return chosen
    raise AssertionError("no such code")


def honest_source(level: int, code: tuple[int, ...]) -> str:
    per_function, imports = styles(level)
    names = list(per_function)
    return fill_stub(level, {name: per_function[name][code[i]] for i, name in enumerate(names)}, imports)


# --------------------------------------------------------------------------- disguise
class _Renamer(ast.NodeTransformer):
    """Renames every name the student bound (not the contract's functions, not modules)."""

    def __init__(self, keep: set[str]):
        self.keep = keep
        self.mapping: dict[str, str] = {}

    def new(self, name: str) -> str:
        if name in self.keep:
            return name
        n = len(self.mapping)
        return self.mapping.setdefault(name, f"{name[:1]}{'_val' if n % 2 else 'tmp'}{n}")

    def visit_arg(self, node):
        node.arg = self.new(node.arg)
        return node

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Store) or node.id in self.mapping:
            node.id = self.new(node.id)
        return node


def _drop_docstrings(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]


def _swap_independent(body: list[ast.stmt]) -> None:
    """Swap the first pair of adjacent simple statements that share no name."""
    for i in range(len(body) - 1):
        a, b = body[i], body[i + 1]
        if not all(isinstance(s, (ast.Assign, ast.AugAssign)) for s in (a, b)):
            continue
        na = {n.id for n in ast.walk(a) if isinstance(n, ast.Name)}
        nb = {n.id for n in ast.walk(b) if isinstance(n, ast.Name)}
        if not na & nb:
            body[i], body[i + 1] = b, a
            return


def disguise(source: str, seed: int) -> str:
    """What a student does to hide a copy; the program computes the same thing."""
    tree = ast.parse(source)
    contract = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    modules = {
        a.asname or a.name.split(".")[0]
        for n in tree.body
        if isinstance(n, (ast.Import, ast.ImportFrom))
        for a in n.names
    }
    _drop_docstrings(tree)
    tree = _Renamer(contract | modules | {"self"}).visit(tree)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.For)):
            _swap_independent(node.body)
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    others = [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    tree.body = others[:1] + list(reversed(defs)) + others[1:]  # imports first, functions reversed
    text = ast.unparse(ast.fix_missing_locations(tree))
    rng = random.Random(seed)
    out = ["# my own work, written from scratch"]
    for line in text.splitlines():
        indent = len(line) - len(line.lstrip(" "))
        line = "\t" * (indent // 4) + line.lstrip(" ")
        if line.lstrip().startswith("def "):
            out += ["", "", f"# {rng.choice(['helper', 'step', 'part'])} {rng.randint(1, 99)}"]
        out.append(line.replace(" = ", "=").replace(", ", ","))
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- the class
def build_class(root: Path) -> dict[str, Path]:
    """Write the class under ``root``; return {student: directory}."""
    codes = {lv: honest_codes(len(styles(lv)[0]), N_HONEST + 1, seed=lv) for lv in CLASS_LEVELS}
    files: dict[str, dict[int, str]] = {}
    for i in range(N_HONEST):
        files[f"honest_{i}"] = {lv: honest_source(lv, codes[lv][i]) for lv in CLASS_LEVELS}
    files["copy_a"] = {lv: disguise(files["honest_0"][lv], seed=lv) for lv in CLASS_LEVELS}
    files["copy_b"] = {lv: disguise(files["honest_1"][lv], seed=10 + lv) for lv in CLASS_LEVELS}
    files["partial"] = {lv: honest_source(lv, codes[lv][N_HONEST]) for lv in CLASS_LEVELS}
    files["partial"][2] = disguise(files["honest_2"][2], seed=99)
    stubs = {lv: stub(lv) for lv in CLASS_LEVELS}
    files["stub_only_1"] = dict(stubs)
    files["-stub=only"] = dict(stubs)
    files["honest_3"][1] = re.sub(r"\n(def train)", f"\n# {HOSTILE_TEXT}\n\\1", files["honest_3"][1], count=1)
    files[FORMULA_NAME] = files.pop("honest_6")
    dirs = {}
    for student, levels in files.items():
        d = root / student
        d.mkdir(parents=True)
        for lv, text in levels.items():
            compile(text, f"{student}/{LEVELS[lv].module}.py", "exec")  # every file is valid Python
            if (student, lv) == NOTEBOOK:
                (d / f"{LEVELS[lv].module}.ipynb").write_text(as_notebook(text))
            else:
                (d / f"{LEVELS[lv].module}.py").write_text(text)
        dirs[student] = d
    return dirs


def as_notebook(text: str) -> str:
    """The module as a notebook: a markdown cell, one code cell per top-level block, a magic."""
    import nbformat

    blocks = [b for b in re.split(r"\n(?=\S)", text) if b.strip()]
    cells = [nbformat.v4.new_markdown_cell("# My level, in a notebook")]
    cells += [nbformat.v4.new_code_cell(b) for b in blocks]
    cells.append(nbformat.v4.new_code_cell("%timeit -n1 -r1 sum(range(10))\n!echo done"))
    return nbformat.writes(nbformat.v4.new_notebook(cells=cells))


FORMULA_NAME = "-honest_6"  # a directory name that a spreadsheet would read as a formula
NOTEBOOK = ("copy_b", 3)  # copy_b hands level 3 in as a notebook
COPY_PAIRS = {("copy_a", "honest_0"), ("copy_b", "honest_1")}
PARTIAL_PAIR, PARTIAL_LEVEL = ("honest_2", "partial"), 2
