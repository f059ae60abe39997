"""The build: assignments/ is generated from solutions/ and must never drift from it.

These tests read the *committed* files in assignments/, so a stale, hand-edited or leaking file
fails here. The fix is always the same: edit solutions/ (or autograder/course/build.py) and run
`python -m autograder build`.
"""

from __future__ import annotations

import copy
import importlib.util
import inspect
import json
import re

import nbformat
import pytest

from autograder.core import curriculum
from autograder.course import build

LEVELS = sorted(curriculum.LEVELS)
REBUILD = f"run `{build.BUILD_COMMAND}` and commit the result"


@pytest.fixture(scope="module")
def fresh_outputs() -> dict[str, bytes]:
    return build.build_all()


def _module(level: int) -> str:
    return curriculum.LEVELS[level].module


def _release_notebook(level: int) -> nbformat.NotebookNode:
    return nbformat.read(build.ASSIGNMENTS_DIR / f"{_module(level)}.ipynb", as_version=4)


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _grade_cells(nb) -> list:
    return [c for c in nb.cells if _nbgrader(c).get("grade")]


def _solution_cells(nb) -> list:
    return [c for c in nb.cells if _nbgrader(c).get("solution")]


def _solution_only_lines(level: int) -> set[str]:
    """Lines of the solution regions that appear nowhere else in the solution file."""
    solution = build.load_solution(level)
    inside: set[str] = set()
    in_region = [False] * len(solution.lines)
    for region in solution.regions:
        for i in range(region.begin, region.end + 1):
            in_region[i] = True
        inside.update(line.strip() for line in solution.lines[region.code_start : region.end])  # not its hints
    outside = {line.strip() for line, flag in zip(solution.lines, in_region) if not flag}
    return {line for line in inside - outside if line}


def _invoke(namespace: dict, owner: str):
    """Call the stubbed function or method ``owner`` ("train", "MyReLU.backward") with dummies.

    A stub raises before it reads its arguments, so None stands in for each of them; a method
    gets an instance made without running ``__init__``.
    """
    *classes, name = owner.split(".")
    if not classes:
        function = namespace[name]
        return function(*[None] * len(inspect.signature(function).parameters))
    cls = namespace[classes[0]]
    raw = inspect.getattr_static(cls, name)
    if isinstance(raw, staticmethod):
        function = raw.__func__
        return function(*[None] * len(inspect.signature(function).parameters))
    instance = cls.__new__(cls)
    return raw(instance, *[None] * (len(inspect.signature(raw).parameters) - 1))


def _assert_every_region_raises(namespace: dict, level: int, where: str) -> None:
    for name in curriculum.LEVELS[level].names:
        assert name in namespace, f"{where}: {name} is not defined"
    for region in build.load_solution(level).regions:
        with pytest.raises(NotImplementedError) as info:
            _invoke(namespace, region.owner)
        assert str(info.value) == region.message, where
        assert str(info.value).startswith(f"{region.owner}: "), where


# --- the committed files are a fresh build ----------------------------------------------------


def test_assignments_match_a_fresh_build(fresh_outputs):
    stale = build.stale_files(build.ASSIGNMENTS_DIR, fresh_outputs)
    names = ", ".join(p.name for p in stale)
    assert not stale, f"assignments/ is stale ({names}): {REBUILD}"


@pytest.mark.slow
def test_build_is_reproducible(fresh_outputs):
    assert build.build_all() == fresh_outputs


@pytest.mark.slow
def test_check_option_reports_stale_and_missing_files(tmp_path, capsys):
    assert build.main(["--out", str(tmp_path)]) == 0
    assert build.main(["--check", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.count("\n") == 1  # only the build's own summary line

    stub = tmp_path / "level3_autograd.py"
    stub.write_text(stub.read_text() + "# edited by hand\n")
    (tmp_path / "level6_optim.ipynb").unlink()
    assert build.main(["--check", "--out", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "level3_autograd.py" in captured.out and "level6_optim.ipynb" in captured.out
    assert "level1_numpy.py" not in captured.out
    assert build.BUILD_COMMAND in captured.err

    assert build.main(["--out", str(tmp_path)]) == 0
    assert build.main(["--check", "--out", str(tmp_path)]) == 0


# --- the stubs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_stub_imports_and_every_stubbed_function_raises(level):
    path = build.ASSIGNMENTS_DIR / f"{_module(level)}.py"
    spec = importlib.util.spec_from_file_location(f"_stub_{_module(level)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _assert_every_region_raises(vars(module), level, str(path))


@pytest.mark.parametrize("level", LEVELS)
def test_notebook_code_cells_define_the_stubs(level):
    """The code the grader takes from a notebook (every code cell but the grade cells)."""
    nb = _release_notebook(level)
    namespace = {"__name__": f"_notebook_{_module(level)}"}  # not __main__: the demo stays off
    for cell in nb.cells:
        if cell.cell_type == "code" and not _nbgrader(cell).get("grade"):
            exec(compile(cell.source, f"{_module(level)}.ipynb:{cell.id}", "exec"), namespace)
    _assert_every_region_raises(namespace, level, f"{_module(level)}.ipynb")


@pytest.mark.parametrize("level", LEVELS)
def test_no_solution_code_leaks_into_assignments(level):
    secret = _solution_only_lines(level)
    assert secret, "every level has solution code that the stubs must not contain"
    stub = (build.ASSIGNMENTS_DIR / f"{_module(level)}.py").read_text(encoding="utf-8")
    leaked = secret & {line.strip() for line in stub.splitlines()}
    assert not leaked, f"{_module(level)}.py contains solution code: {sorted(leaked)}"
    for cell in _release_notebook(level).cells:
        leaked = secret & {line.strip() for line in cell.source.splitlines()}
        assert not leaked, f"{_module(level)}.ipynb cell {cell.id} contains solution code: {leaked}"


@pytest.mark.parametrize("level", LEVELS)
def test_stub_lines_stay_short_and_point_to_hint(level):
    stub = (build.ASSIGNMENTS_DIR / f"{_module(level)}.py").read_text(encoding="utf-8")
    raises = [line for line in stub.splitlines() if "raise NotImplementedError(" in line]
    assert raises and all(f"hint({level}, '" in line for line in raises), raises
    too_long = [line for line in stub.splitlines() if len(line) > 100]
    assert not too_long, too_long


def test_hints_json_holds_every_ladder_and_no_solution_code(fresh_outputs):
    from autograder.course import hints

    document = json.loads(fresh_outputs[hints.HINTS_FILE])
    assert document["enabled"] is True and sorted(map(int, document["levels"])) == LEVELS
    text = json.dumps(document)
    for level in LEVELS:
        assert set(document["levels"][str(level)]) == set(curriculum.stages_of(level))
        # A last rung may come close to a line ("almost the line") and quote an idiom such as
        # `with torch.no_grad():`, but it never gives a region away: of the region's lines that the
        # stub does not already show (its docstrings and TODO quote some), it quotes none of a
        # one-line region and at most half of a longer one.
        secret = _solution_only_lines(level)
        stub = (build.ASSIGNMENTS_DIR / f"{_module(level)}.py").read_text(encoding="utf-8")
        solution = build.load_solution(level)
        for region in solution.regions:
            code = {ln.strip() for ln in solution.lines[region.code_start : region.end]} & secret
            code = {ln for ln in code if len(ln) >= 8 and ln not in stub}
            quoted = {ln for ln in code if ln in text}
            allowed = len(code) / 2 if len(code) > 1 else 0
            assert len(quoted) <= allowed, f"hints.json gives away {region.owner}: {sorted(quoted)}"


@pytest.mark.parametrize("level", LEVELS)
def test_nothing_of_the_solution_enters_a_notebooks_metadata(level):
    nb = _release_notebook(level)
    metadata = json.dumps([nb.metadata] + [c.metadata for c in nb.cells])
    for line in {ln for ln in _solution_only_lines(level) if len(ln) >= 4} | {"# hint", "hints.json"}:
        assert line not in metadata, line
    source = json.dumps(build.build_notebook(level, with_solutions=True).cells)
    assert "# hint " not in source, "the hint block stays out of the nbgrader source form too"


def test_no_solution_delimiters_in_assignments():
    files = sorted(build.ASSIGNMENTS_DIR.iterdir())
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        for marker in ("BEGIN SOLUTION", "END SOLUTION"):
            assert marker not in text, f"{path.name} contains {marker!r}: {REBUILD}"


# --- the notebooks -----------------------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_notebook_is_valid_and_clean(level):
    nb = _release_notebook(level)
    nbformat.validate(nb)
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5)
    assert nb.metadata.kernelspec.name == "python3"
    assert nb.metadata.kernelspec.language == "python"
    ids = [cell.id for cell in nb.cells]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(rf"level{level}-cell-\d\d", i) for i in ids), ids
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.id
    assert nb.cells[0].cell_type == "markdown"
    assert nb.cells[1].cell_type == "code" and "import" in nb.cells[1].source

    from nbgrader.nbgraderformat import MetadataValidator

    MetadataValidator().validate_nb(nb)


@pytest.mark.parametrize("level", LEVELS)
def test_grade_cells_carry_the_curriculum_points(level):
    nb = _release_notebook(level)
    grade_ids = [_nbgrader(c)["grade_id"] for c in nb.cells if _nbgrader(c)]
    assert len(set(grade_ids)) == len(grade_ids), f"duplicate grade_id in {grade_ids}"

    cells = _grade_cells(nb)
    stages = [
        re.fullmatch(rf'from autograder\.selfcheck import check, hint\ncheck\({level}, "(\w+)"\)', cell.source)
        for cell in cells
    ]
    assert all(stages), [cell.source for cell in cells]
    assert sorted(m.group(1) for m in stages) == sorted(curriculum.stages_of(level))
    for cell, match in zip(cells, stages):
        meta = _nbgrader(cell)
        stage = match.group(1)
        assert meta["grade_id"] == f"level{level}_{stage}"
        assert meta["locked"] is True and meta["solution"] is False
        assert meta["schema_version"] == 3
        assert meta["points"] == curriculum.stage_points(level, stage)
        assert cell.metadata.get("editable") is False  # locked as nbgrader releases it
    assert sum(_nbgrader(c)["points"] for c in cells) == pytest.approx(curriculum.LEVEL_POINTS)


@pytest.mark.parametrize("level", LEVELS)
def test_solution_cells_are_nbgrader_answer_cells(level):
    cells = _solution_cells(_release_notebook(level))
    assert len(cells) == len(curriculum.LEVELS[level].names)
    for cell in cells:
        meta = _nbgrader(cell)
        assert meta["schema_version"] == 3
        assert meta["grade"] is False and meta["locked"] is False and meta["task"] is False
        assert "# YOUR CODE HERE" in cell.source and "raise NotImplementedError(" in cell.source


@pytest.mark.parametrize("level", LEVELS)
def test_source_form_matches_the_release_form(level):
    release = build.build_notebook(level, with_solutions=False)
    source = build.build_notebook(level, with_solutions=True)
    assert [(c.id, c.cell_type) for c in source.cells] == [(c.id, c.cell_type) for c in release.cells]
    for s, r in zip(source.cells, release.cells):
        release_meta = {k: v for k, v in _nbgrader(r).items() if k not in ("checksum", "cell_type")}
        assert _nbgrader(s) == release_meta, s.id
        if not _nbgrader(s).get("solution"):
            assert s.source == r.source, s.id


@pytest.mark.parametrize("level", LEVELS)
def test_nbgrader_clear_solutions_strips_the_source_form(level):
    from nbgrader.preprocessors import ClearSolutions

    source = build.build_notebook(level, with_solutions=True)
    assert all("### BEGIN SOLUTION" in c.source for c in _solution_cells(source))
    cleared, _ = ClearSolutions().preprocess(copy.deepcopy(source), {})

    secret = _solution_only_lines(level)
    for cell in _solution_cells(cleared):
        leaked = secret & {line.strip() for line in cell.source.splitlines()}
        assert not leaked, f"cell {cell.id} keeps solution code: {leaked}"
        assert "SOLUTION" not in cell.source
        assert "raise NotImplementedError()" in cell.source
        assert "def " in cell.source or "class " in cell.source  # the signature survives
    assert [(c.source, c.metadata) for c in _grade_cells(cleared)] == [
        (c.source, c.metadata) for c in _grade_cells(source)
    ]
    for before, after in zip(source.cells, cleared.cells):
        if not _nbgrader(before).get("solution"):
            assert after.source == before.source, before.id


# --- the single source -------------------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_solution_defines_the_contract_and_runs(level):
    path = build.solution_path(level)
    spec = importlib.util.spec_from_file_location(f"_solution_{_module(level)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in curriculum.LEVELS[level].names:
        assert hasattr(module, name), f"{path.name} does not define {name}"


def _install_source(nb) -> str:
    return next(c.source for c in nb.cells if c.cell_type == "code")


def test_a_notebook_installs_the_kit_where_it_is_missing_and_only_there(monkeypatch):
    """Opened by itself in Colab or Kaggle, a level's notebook installs the kit with its first code
    cell, from the source the instructor gave at build time; where the kit is installed, the cell
    does nothing. Loaded as a module (the grader, where the kit is not importable) it does nothing
    either: the official grade of the reference notebook is full marks (test_nbgrader)."""
    import importlib.util
    import subprocess

    url = "git+https://example.org/course/kit.git@v1"
    cell = _install_source(build.build_notebook(3, False, install_from=url))
    calls = []
    monkeypatch.setattr(subprocess, "check_call", lambda cmd: calls.append(cmd))
    kernel = {"__name__": "__main__"}
    exec(compile(cell, "<install cell>", "exec"), dict(kernel))
    assert calls == []  # installed here: nothing is run
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "autograder" else real_find_spec(name, *a)
    )
    exec(compile(cell, "<install cell>", "exec"), {"__name__": "level3_autograd"})
    assert calls == []  # loaded as the graded module: nothing is run, nothing raised
    exec(compile(cell, "<install cell>", "exec"), dict(kernel))
    assert len(calls) == 1 and calls[0][1:] == ["-m", "pip", "install", "--quiet", url]
    plain = _install_source(build.build_notebook(3, False))
    exec(compile(plain, "<install cell>", "exec"), {"__name__": "level3_autograd"})
    with pytest.raises(ModuleNotFoundError, match="not installed"):
        exec(compile(plain, "<install cell>", "exec"), dict(kernel))


@pytest.mark.slow
def test_check_knows_how_the_files_were_built(tmp_path):
    """Issue 29: after `build --install-from URL`, `build --check` (and a rebuild) take the source
    from the notebooks themselves; `--install-from none` drops it."""
    url = "git+https://example.org/course/kit.git@v2"
    out = tmp_path / "released"
    assert build.main(["--out", str(out), "--install-from", url]) == 0
    assert build.recorded_install_from(out) == url
    assert build.main(["--out", str(out), "--check"]) == 0
    assert build.main(["--out", str(out)]) == 0 and build.recorded_install_from(out) == url  # kept
    assert build.main(["--out", str(out), "--check", "--install-from", "none"]) == 1  # would drop it
    assert build.main(["--out", str(out), "--install-from", "none"]) == 0
    assert build.recorded_install_from(out) is None
    assert build.main(["--out", str(out), "--check"]) == 0
