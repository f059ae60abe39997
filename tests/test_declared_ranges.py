"""The declared ranges are the tested ranges: pyproject.toml's torch, numpy and Python ranges against
the rows bench/test_versions.py wrote into docs/versions.md, and against the edges the versions
workflow runs. A floor moved without a row that measured it, a red row inside the range, or a
workflow that GitHub cannot parse fails here."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
START_METHODS = {"fork", "spawn", "portable"}


def declared() -> dict[str, SpecifierSet]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    out = {"python": SpecifierSet(project["requires-python"])}
    for dep in project["dependencies"]:
        req = Requirement(dep)
        if req.name in ("torch", "numpy"):
            out[req.name] = req.specifier
    return out


def floor(spec: SpecifierSet) -> Version:
    lows = [Version(s.version) for s in spec if s.operator in (">=", "~=", "==")]
    assert lows, f"{spec} has no floor"
    return max(lows)


def rows() -> list[dict]:
    text = (ROOT / "docs" / "versions.md").read_text()
    body = text.split("<!-- versions table: written by bench/test_versions.py -->", 1)[1]
    body = body.split("<!-- end of versions table -->", 1)[0]
    lines = [ln for ln in body.strip().splitlines() if ln.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    return [dict(zip(header, (c.strip() for c in ln.strip("|").split("|")))) for ln in lines[2:]]


def inside(row: dict, ranges: dict[str, SpecifierSet]) -> bool:
    return (
        Version(row["torch"]).public in ranges["torch"]
        and Version(row["numpy"]) in ranges["numpy"]
        and Version(row["Python"] + ".0") in ranges["python"]
    )


def green(row: dict) -> bool:
    return all(row[part].startswith("✓") for part in ("reference", "stubs", "corpus"))


def test_every_row_inside_the_declared_ranges_is_green():
    ranges = declared()
    red = [r for r in rows() if inside(r, ranges) and not green(r)]
    assert red == [], [(r["Python"], r["torch"], r["numpy"], r["start"], r["failed"]) for r in red]


@pytest.mark.parametrize("package", ["torch", "numpy"])
def test_each_floor_was_measured_through_every_start_method(package):
    ranges = declared()
    low = floor(ranges[package])
    at_floor = [r for r in rows() if inside(r, ranges) and Version(r[package]).release[:2] == low.release[:2]]
    assert {r["start"] for r in at_floor if green(r)} >= START_METHODS, (package, str(low), at_floor)


def test_the_oldest_python_was_measured_through_every_start_method():
    ranges = declared()
    low = floor(ranges["python"])
    at_floor = [r for r in rows() if inside(r, ranges) and r["Python"] == f"{low.major}.{low.minor}"]
    assert {r["start"] for r in at_floor if green(r)} >= START_METHODS


def test_no_row_claims_a_range_it_is_not_in():
    """The 'declared range' column was written at the time of the run: it still holds."""
    ranges = declared()
    wrong = [r for r in rows() if r["declared range"] != ("inside" if inside(r, ranges) else "outside")]
    assert wrong == [], wrong


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_every_workflow_is_one_github_can_read(workflow):
    """Valid YAML (an unquoted ': ' in a step's name once made a whole workflow unreadable), every
    job with steps, every step something to run or use."""
    data = yaml.safe_load(workflow.read_text())
    assert isinstance(data, dict) and data.get("jobs"), workflow
    for name, job in data["jobs"].items():
        assert job.get("steps"), name
        for step in job["steps"]:
            assert "run" in step or "uses" in step, (name, step)


def test_the_versions_workflow_runs_every_edge_of_the_ranges():
    ranges = declared()
    data = yaml.safe_load((ROOT / ".github" / "workflows" / "versions.yml").read_text())
    edges = [job for job in data["jobs"]["edge"]["strategy"]["matrix"]["include"]]
    torches = [Version(e["torch"]) for e in edges]
    numpys = [Version(e["numpy"]) for e in edges]
    pythons = [Version(e["python"]) for e in edges]
    assert all(Version(t.public) in ranges["torch"] for t in torches), torches
    assert all(n in ranges["numpy"] for n in numpys), numpys
    assert min(t.release[:2] for t in torches) == floor(ranges["torch"]).release[:2]
    assert min(n.release[:2] for n in numpys) == floor(ranges["numpy"]).release[:2]
    assert min(p.release[:2] for p in pythons) == floor(ranges["python"]).release[:2]
    # numpy 1 and numpy 2 at the oldest and at the newest torch
    oldest, newest = min(torches), max(torches)
    for torch in (oldest, newest):
        assert {n.major for t, n in zip(torches, numpys) if t == torch} == {1, 2}, torch
    # every Python the newest torch is run on counts up to the newest one the workflow names
    newest_python = max(pythons)
    assert {p.minor for t, p in zip(torches, pythons) if t == newest} >= set(
        range(floor(ranges["python"]).minor + 1, newest_python.minor + 1)
    )
    assert all(re.fullmatch(r"3\.\d+", e["python"]) for e in edges)


def test_the_suite_runs_without_pytest_xdist():
    """The version rows' venvs hold the kit's dependencies, not its test extras: the suite's
    conftest must load without pytest-xdist (its worker-count hook once stopped every such run with
    ``unknown hook 'pytest_xdist_auto_num_workers'``)."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider", "-q", __file__, "-k", "workflow"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0 and "passed" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-2000:]
