"""Submissions that are not code the grader can run as asked: each must still get a score and a
clear message on every check of its level, never a grader error or traceback.

The submissions are written on the fly into tmp_path, most of them as one edit of the reference
solution, so that only the damaged part can lose points.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat
import pytest

from autograder.core import curriculum
from autograder.grading import grade
from conftest import SEED

ROOT = Path(__file__).resolve().parent.parent


def module(level: int) -> str:
    return curriculum.LEVELS[level].module


def solution(level: int) -> str:
    return (ROOT / "solutions" / f"{module(level)}.py").read_text()


def edited(level: int, old: str, new: str) -> str:
    src = solution(level)
    assert src.count(old) == 1, f"{old!r} should occur once in the level {level} solution"
    return src.replace(old, new)


def line_of(source: str, text: str, exact: bool = False) -> int:
    """The 1-based number of the one line that contains text (or, exact, that is text once stripped)."""
    hits = [i for i, line in enumerate(source.splitlines(), 1) if (line.strip() == text if exact else text in line)]
    assert len(hits) == 1, hits
    return hits[0]


def grade_files(tmp_path: Path, zygote, files: dict[str, str | bytes], levels=(1,)) -> dict[str, object]:
    """Grade a directory holding files; check the report is complete and error-free; return checks by id."""
    sub = tmp_path / "submission"
    sub.mkdir()
    for name, content in files.items():
        if isinstance(content, bytes):
            (sub / name).write_bytes(content)
        else:
            (sub / name).write_text(content)
    report = grade(sub, list(levels), seed=SEED, pool=zygote)
    checks = {c.id: c for c in report.checks}
    detail = "\n".join(
        f"  {c.id}: {'pass' if c.passed else 'FAIL'} {c.score}/{c.max_score}"
        f"{' ERROR' if c.error else ''} {c.message[:2000]}"
        for c in report.checks
    )
    want = {spec.id for lv in levels for spec in curriculum.checks_for(lv)}
    assert set(checks) == want, f"the report should hold every check of the level(s)\n{detail}"
    errors = [c.id for c in report.checks if c.error]
    assert not errors, f"grader error(s) on {errors}: the student's fault must be a failed check\n{detail}"
    assert not report.errors, report.errors
    for c in report.checks:
        assert 0.0 <= c.score <= c.max_score
        assert c.passed or c.message.strip(), f"{c.id} failed without a message\n{detail}"
        assert "Traceback (most recent call last)" not in c.message, f"{c.id} shows a traceback\n{detail}"
    return checks


def expect_zero(checks: dict, ids, *words: str) -> None:
    """Each check in ids scored 0 and its message contains every word (case-insensitive)."""
    for check_id in ids:
        c = checks[check_id]
        assert not c.passed and c.score == 0.0, f"{check_id} should score 0: {c.message}"
        for word in words:
            assert word.lower() in c.message.lower(), f"{check_id}: {word!r} not in {c.message!r}"


def level_ids(level: int, stage: str | None = None) -> list[str]:
    return [spec.id for spec in curriculum.checks_for(level, stage)]


# ------------------------------------------------------------------ the file is not there or not code
@pytest.mark.parametrize("level", sorted(curriculum.LEVELS))
def test_missing_file(tmp_path, zygote, level):
    checks = grade_files(tmp_path, zygote, {}, levels=(level,))
    expect_zero(checks, level_ids(level), f"{module(level)}.py", "missing")


def test_missing_level_does_not_stop_the_others(tmp_path, zygote):
    checks = grade_files(tmp_path, zygote, {f"{module(2)}.py": solution(2)}, levels=(1, 2))
    expect_zero(checks, level_ids(1), f"{module(1)}.py", "missing")
    assert all(checks[i].passed for i in level_ids(2)), "level 2 is complete and must get full marks"


def test_syntax_error(tmp_path, zygote):
    src = edited(1, "    h_relu = np.maximum(h, 0)\n    y_pred", "    h_relu = np.maximum(h, 0\n    y_pred")
    line = line_of(src, "h_relu = np.maximum(h, 0", exact=True)
    checks = grade_files(tmp_path, zygote, {f"{module(1)}.py": src})
    expect_zero(checks, level_ids(1), "syntax error", f"line {line}")


def test_import_error(tmp_path, zygote):
    src = edited(1, "import numpy as np\n", "import numpy as np\nimport notamodule\n")
    checks = grade_files(tmp_path, zygote, {f"{module(1)}.py": src})
    expect_zero(checks, level_ids(1), "notamodule", "import", f"line {line_of(src, 'import notamodule')}")


def test_exception_at_import_time(tmp_path, zygote):
    src = solution(3) + "\nweights = torch.load('my_weights.pt')  # left over from a notebook session\n"
    checks = grade_files(tmp_path, zygote, {f"{module(3)}.py": src}, levels=(3,))
    expect_zero(checks, level_ids(3), "import", "my_weights.pt", f"line {line_of(src, 'my_weights.pt')}")


def test_binary_junk_named_like_the_module(tmp_path, zygote):
    junk = bytes(range(256)) * 8
    checks = grade_files(tmp_path, zygote, {f"{module(1)}.py": junk})
    expect_zero(checks, level_ids(1), f"{module(1)}.py", "binary")


def test_nul_bytes_in_the_module(tmp_path, zygote):
    checks = grade_files(tmp_path, zygote, {f"{module(2)}.py": solution(2) + "\x00\x00"}, levels=(2,))
    expect_zero(checks, level_ids(2), f"{module(2)}.py", "NUL")


def test_release_stub_is_not_implemented(tmp_path, zygote):
    stub = (ROOT / "assignments" / f"{module(1)}.py").read_text()
    checks = grade_files(tmp_path, zygote, {f"{module(1)}.py": stub})
    expect_zero(checks, level_ids(1, "forward") + level_ids(1, "loss") + level_ids(1, "backward"), "not implemented")
    assert sum(c.score for c in checks.values()) == 0.0


# ------------------------------------------------------------------ code that runs, but not as asked
def test_wrong_signature(tmp_path, zygote):
    src = edited(1, "def forward(x, w1, w2):", "def forward(x, w1):")
    checks = grade_files(tmp_path, zygote, {f"{module(1)}.py": src})
    expect_zero(checks, level_ids(1, "forward"), "forward()", "TypeError", "positional argument")
    assert all(checks[i].passed for i in level_ids(1, "loss") + level_ids(1, "backward") + level_ids(1, "step"))


def test_wrong_return_type_list(tmp_path, zygote):
    src = edited(1, "    return y_pred, h\n", "    return y_pred.tolist(), h.tolist()\n")
    checks = grade_files(tmp_path, zygote, {f"{module(1)}.py": src})
    expect_zero(checks, level_ids(1, "forward"), "numpy array", "list")


def test_wrong_return_type_string(tmp_path, zygote):
    src = edited(1, "    return float(np.square(y_pred - y).sum())", '    return f"{np.square(y_pred - y).sum():.3f}"')
    checks = grade_files(tmp_path, zygote, {f"{module(1)}.py": src})
    expect_zero(checks, level_ids(1, "loss"), "float", "str")
    assert all(checks[i].passed for i in level_ids(1, "forward") + level_ids(1, "backward"))


def test_wrong_return_type_numpy_at_a_torch_level(tmp_path, zygote):
    src = edited(3, "    return y_pred\n", "    return y_pred.detach().numpy()\n")
    checks = grade_files(tmp_path, zygote, {f"{module(3)}.py": src}, levels=(3,))
    expect_zero(checks, ["3.forward.values"], "torch.Tensor", "array")


def test_wrong_shape(tmp_path, zygote):
    src = edited(1, "    return y_pred, h\n", "    return y_pred.reshape(-1), h\n")
    checks = grade_files(tmp_path, zygote, {f"{module(1)}.py": src})
    expect_zero(checks, level_ids(1, "forward"), "y_pred", "shape", "expected (")


def test_transposed_shape_is_named(tmp_path, zygote):
    src = edited(1, "    return grad_w1, grad_w2\n", "    return grad_w1, grad_w2.T\n")
    checks = grade_files(tmp_path, zygote, {f"{module(1)}.py": src})
    expect_zero(checks, level_ids(1, "backward"), "grad_w2", "shape", "transposed")


def test_nan_outputs_of_a_model(tmp_path, zygote):
    src = edited(7, "        return y_pred\n", '        return y_pred * float("nan")\n')
    checks = grade_files(tmp_path, zygote, {f"{module(7)}.py": src}, levels=(7,))
    expect_zero(checks, ["7.forward.values"], "NaN")
    assert all(checks[i].passed for i in level_ids(7, "train")), "train is run on the grader's model"


def test_nan_outputs_by_hand(tmp_path, zygote):
    src = edited(1, "    return y_pred, h\n", "    return y_pred * np.nan, h\n")
    checks = grade_files(tmp_path, zygote, {f"{module(1)}.py": src})
    expect_zero(checks, ["1.forward.values"], "NaN")
    expect_zero(checks, ["1.train.lockstep"])


def test_exception_inside_student_code(tmp_path, zygote):
    src = edited(
        1, "    grad_w1 = x.T @ grad_h\n", '    grad_w1 = x.T @ grad_h\n    raise ValueError("shapes look odd")\n'
    )
    line = line_of(src, "shapes look odd")
    checks = grade_files(tmp_path, zygote, {f"{module(1)}.py": src})
    expect_zero(checks, level_ids(1, "backward"), "ValueError", "shapes look odd", f"line {line}", "backward")
    assert all(checks[i].passed for i in level_ids(1, "forward") + level_ids(1, "loss") + level_ids(1, "step"))


def test_exception_inside_a_custom_function(tmp_path, zygote):
    src = edited(4, "        input, = ctx.saved_tensors\n", "        input, = ctx.saved_tensor\n")
    line = line_of(src, "input, = ctx.saved_tensor", exact=True)
    checks = grade_files(tmp_path, zygote, {f"{module(4)}.py": src}, levels=(4,))
    expect_zero(checks, ["4.backward.myrelu", "4.backward.gradcheck"], "AttributeError", "saved_tensor")
    assert f"line {line}" in checks["4.backward.myrelu"].message
    assert checks["4.forward.myrelu"].passed


# ------------------------------------------------------------------ notebooks
def filled_notebook(level: int) -> nbformat.NotebookNode:
    """The release notebook (assignments/) with each solution cell replaced by the solution's code."""
    nb = nbformat.read(ROOT / "assignments" / f"{module(level)}.ipynb", as_version=4)
    src = solution(level)
    defs = {
        node.name: ast.get_source_segment(src, node)
        for node in ast.parse(src).body
        if isinstance(node, (ast.FunctionDef, ast.ClassDef))
    }
    filled = 0
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        prefix = f"level{level}_solution_"
        if cell.cell_type == "code" and grade_id.startswith(prefix):
            name = grade_id[len(prefix) :]
            cell.source = defs[name]
            filled += 1
    assert filled == len(curriculum.LEVELS[level].names), "every graded name has a solution cell"
    return nb


@pytest.mark.parametrize("level", [1, 4, 8])
def test_notebook_is_graded_like_the_module(tmp_path, zygote, level):
    nb = filled_notebook(level)
    # what students add to notebooks: magics, shell escapes, help lookups
    nb.cells.insert(1, nbformat.v4.new_code_cell("%matplotlib inline\n!pip list | head -3\nnp?"))
    checks = grade_files(tmp_path, zygote, {f"{module(level)}.ipynb": nbformat.writes(nb)}, levels=(level,))
    failing = {i: c.message for i, c in checks.items() if not c.passed}
    assert not failing, failing


def test_notebook_with_a_mistake_loses_the_same_checks_as_the_module(tmp_path, zygote):
    nb = filled_notebook(1)
    for cell in nb.cells:
        if cell.cell_type == "code" and "def sgd_step" in cell.source:
            cell.source = cell.source.replace("p -= lr * g", "p += lr * g")
    checks = grade_files(tmp_path, zygote, {f"{module(1)}.ipynb": nbformat.writes(nb)})
    expect_zero(checks, level_ids(1, "step"), "adds the gradient")
    assert checks["1.train.lockstep"].diagnosis == "ascent"
    assert all(checks[i].passed for i in level_ids(1, "forward") + level_ids(1, "loss") + level_ids(1, "backward"))


def test_module_wins_over_a_notebook(tmp_path, zygote):
    checks = grade_files(
        tmp_path, zygote, {f"{module(6)}.py": solution(6), f"{module(6)}.ipynb": "{not json"}, levels=(6,)
    )
    assert all(c.passed for c in checks.values()), "the .py is graded when both exist"


def test_malformed_notebook(tmp_path, zygote):
    checks = grade_files(tmp_path, zygote, {f"{module(1)}.ipynb": '{"cells": [{"cell_type": "code", "source": "x = 1"'})
    expect_zero(checks, level_ids(1), f"{module(1)}.ipynb", "not a valid notebook")


def test_notebook_without_cells(tmp_path, zygote):
    checks = grade_files(
        tmp_path, zygote, {f"{module(5)}.ipynb": json.dumps({"nbformat": 4, "metadata": {}})}, levels=(5,)
    )
    expect_zero(checks, level_ids(5), f"{module(5)}.ipynb", "not a valid notebook")


def test_notebook_with_a_syntax_error(tmp_path, zygote):
    nb = filled_notebook(1)
    for cell in nb.cells:
        if cell.cell_type == "code" and "def backward" in cell.source:
            cell.source = cell.source.replace("grad_w1 = x.T @ grad_h", "grad_w1 = x.T @@ grad_h")
    checks = grade_files(tmp_path, zygote, {f"{module(1)}.ipynb": nbformat.writes(nb)})
    expect_zero(checks, level_ids(1), "syntax error", "grad_w1 = x.T @@ grad_h")
