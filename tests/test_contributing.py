"""docs/contributing.md's "Add a level", followed on a throwaway copy.

The page's code blocks are the fixture: a toy level 9 (a solution file, its record and checks for
the curriculum, a check module). They are written into a temporary directory, the level is
registered for the duration (``curriculum.register_level``, with the check module's path), and
the real grading path grades the solution (full marks), a broken copy (the stage of its mistake
fails, and only what should) and the stub the build makes of it (nothing earned, no grader error).
"""

from __future__ import annotations

import dataclasses
import random
import re
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from autograder.core import curriculum
from autograder.core import reference as ref
from autograder.core.problems import Sizes, generator
from autograder.course import build, source
from autograder.grading import grade
from conftest import SEED

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "contributing.md"

SOLUTION = "solutions/level9_deeper.py"
LEVEL_ENTRY = "autograder/core/curriculum.py, in LEVELS"
CHECK_ENTRIES = "autograder/core/curriculum.py, in _CHECKS"
CHECK_MODULE = "autograder/checks/test_level9.py"
#: the broken toy: no ReLU after the second layer
MISTAKE = ("        h = self.linear2(h).clamp(min=0)\n", "        h = self.linear2(h)\n")


def doc_blocks() -> dict[str, str]:
    """The page's Python blocks whose first line is a comment naming a file, by that name."""
    blocks = {}
    for _indent, body in re.findall(r"^( *)```python\n(.*?)^\1```$", DOC.read_text(encoding="utf-8"), re.M | re.S):
        first, _, rest = textwrap.dedent(body).partition("\n")
        if first.startswith("# "):
            blocks[first[2:].strip()] = rest
    return blocks


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """Level 9 from the page: its files in a temporary directory, its record registered."""
    blocks = doc_blocks()
    root = tmp_path_factory.mktemp("toy_level")
    solutions, checks = root / "solutions", root / "toy_checks"
    solutions.mkdir()
    checks.mkdir()
    solution = solutions / Path(SOLUTION).name
    solution.write_text(blocks[SOLUTION])
    check_module = checks / Path(CHECK_MODULE).name
    check_module.write_text(blocks[CHECK_MODULE])
    namespace = dict(vars(curriculum))  # the entries are written in curriculum.py's own terms
    ((number, level),) = eval("{" + blocks[LEVEL_ENTRY] + "}", namespace).items()
    specs = eval("[" + blocks[CHECK_ENTRIES] + "]", namespace)
    assert level.module == solution.stem and check_module.name == f"test_level{number}.py"
    curriculum.register_level(dataclasses.replace(level, checks_file=check_module), specs)
    saved_solutions = source.SOLUTIONS_DIR
    source.SOLUTIONS_DIR = solutions  # the build reads the toy's solution from the throwaway copy
    try:
        yield dict(number=number, level=level, root=root, solution=solution)
    finally:
        source.SOLUTIONS_DIR = saved_solutions
        curriculum.unregister_level(number)
        sys.modules.pop(check_module.stem, None)  # pytest imported the check module by its basename
        if str(checks) in sys.path:
            sys.path.remove(str(checks))


def _submission(directory: Path, module: str, text: str) -> Path:
    directory.mkdir()
    (directory / f"{module}.py").write_text(text)
    return directory


def _describe(report) -> str:
    return "\n".join(f"{c.id}: {'pass' if c.passed else 'FAIL'} {c.message[:300]}" for c in report.checks)


def test_the_page_holds_the_toy_level():
    assert {SOLUTION, LEVEL_ENTRY, CHECK_ENTRIES, CHECK_MODULE} <= set(doc_blocks())


def test_the_toy_level_is_one_record_the_references_read(toy):
    number, level = toy["number"], toy["level"]
    assert curriculum.stages_of(number) == ["forward", "loss", "zero_grad", "step", "train"]
    s = Sizes(N=4, D_in=5, H=3, D_out=2)
    params = ref.init_params(number, s, generator(SEED, "toy"))
    assert (
        tuple(params)
        == level.param_names
        == ("linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias", "linear3.weight", "linear3.bias")
    )
    assert params["linear2.weight"].shape == (3, 3) and params["linear3.weight"].shape == (2, 3)
    assert ref.model_forward(number, params, torch.ones(4, 5, dtype=torch.float64)).shape == (4, 2)


def test_the_toy_level_builds(toy):
    stub = build.build_stub(toy["number"])
    assert 'raise NotImplementedError("ThreeLayerNet.forward:' in stub
    nb = build.build_notebook(toy["number"], with_solutions=False)
    points = [c.metadata["nbgrader"]["points"] for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert sum(points) == curriculum.LEVEL_POINTS


@pytest.mark.slow
def test_the_toy_solution_gets_full_marks(toy, zygote):
    report = grade(toy["solution"].parent, [toy["number"]], SEED, pool=zygote)
    assert report.errors == [], report.errors
    assert len(report.checks) == 7 and all(c.passed for c in report.checks), _describe(report)
    assert report.level_score(toy["number"]) == (12.5, 12.5)


@pytest.mark.slow
def test_a_broken_toy_fails_the_stage_of_its_mistake(toy, zygote, tmp_path):
    text = toy["solution"].read_text()
    assert MISTAKE[0] in text
    broken = _submission(tmp_path / "broken", toy["level"].module, text.replace(*MISTAKE))
    report = grade(broken, [toy["number"]], SEED, pool=zygote)
    assert report.errors == [] and not any(c.error for c in report.checks), _describe(report)
    # train is handed the grader's own model (CONTRACT.md), so the mistake costs the forward stage alone
    assert {c.id for c in report.checks if not c.passed} == {"9.forward.values"}, _describe(report)


@pytest.mark.slow
def test_the_toy_stub_earns_nothing_and_breaks_nothing(toy, zygote, tmp_path):
    stub = _submission(tmp_path / "stub", toy["level"].module, build.build_stub(toy["number"]))
    report = grade(stub, [toy["number"]], SEED, pool=zygote)
    assert report.errors == [] and not any(c.error for c in report.checks), _describe(report)
    assert report.level_score(toy["number"]) == (0.0, 12.5), _describe(report)


@pytest.mark.parametrize("number", [n for n, lv in sorted(curriculum.LEVELS.items()) if lv.model.kind != "weights"])
def test_the_childs_model_is_the_records(number):
    """The model the student's process builds from a record's plain-data spec is the reference's network."""
    from autograder.child.models import build_model

    level, s = curriculum.LEVELS[number], Sizes(N=4, D_in=5, H=3, D_out=2)
    params = ref.init_params(number, s, generator(SEED, "spec"))
    model = build_model(*level.model.spec(s)).double()
    assert [n for n, _ in model.named_parameters()] == list(level.param_names)
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.copy_(params[n])
    x = torch.randn(4, 5, generator=generator(SEED, "x"), dtype=torch.float64)
    for python_seed in range(3):
        random.seed(python_seed)
        got = model(x)
        k = ref.depths(python_seed, 1, level.model.max_depth)[0] if level.model.dynamic else None
        torch.testing.assert_close(got, ref.model_forward(number, params, x, k), rtol=1e-12, atol=1e-12)


def test_register_level_refuses_what_does_not_fit():
    level = dataclasses.replace(curriculum.LEVELS[7], number=99, module="level99_x")
    with pytest.raises(ValueError, match="exists already"):
        curriculum.register_level(curriculum.LEVELS[7], [])
    with pytest.raises(ValueError, match="worth"):
        curriculum.register_level(level, [curriculum.CheckSpec("99.forward.init", 99, "forward", 1.0, "x")])
    with pytest.raises(ValueError, match="do not belong"):
        curriculum.register_level(level, [curriculum.CheckSpec("99.nowhere.init", 99, "nowhere", 12.5, "x")])
    assert 99 not in curriculum.LEVELS and not curriculum.checks_for(99)
