"""The platform smoke suite (.github/workflows/platforms.yml runs it on Linux, macOS and Windows):
the kit installed as a student installs it grades the reference to full marks and a stub to zero
with no grader error, and one level's notebook self-check works in a real Jupyter kernel.

    python tests/platform_smoke.py          (exit status 0 when all holds; what failed otherwise)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def grade(directory: Path, levels: list[int]) -> dict:
    cmd = [sys.executable, "-m", "autograder", "grade", str(directory), "--format", "json"]
    cmd += [a for lv in levels for a in ("--level", str(lv))]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=ROOT)
    if proc.returncode not in (0, 1):
        sys.exit(
            f"grading {directory} failed with status {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return json.loads(proc.stdout)


def check_reference_and_stub() -> None:
    full = grade(ROOT / "solutions", [1, 3])
    assert full["errors"] == [], full["errors"]
    assert full["score"] == full["max_score"] == 25, [c["message"] for c in full["checks"] if not c["passed"]]
    expected = os.environ.get("KIT_SANDBOX_START") or ("fork" if sys.platform.startswith("linux") else "portable")
    assert full["sandbox"]["start"] == expected, full["sandbox"]
    print(f"reference: {full['score']:g}/{full['max_score']:g}; sandbox: {json.dumps(full['sandbox'])}")
    stub = grade(ROOT / "assignments", [3])
    assert stub["errors"] == [] and stub["score"] == 0, stub
    assert all("not implemented" in c["message"] for c in stub["checks"])
    print(f"stub: {stub['score']:g}/{stub['max_score']:g}")


def check_notebook_self_check() -> None:
    """Level 1's notebook, solutions filled in, run top to bottom in a real kernel: every self-check
    cell shows its stage passed."""
    import nbclient

    from autograder.course.build import build_notebook

    nb = build_notebook(1, with_solutions=True)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute()
    checks = [c for c in nb.cells if c.cell_type == "code" and "check(" in c.source]
    text = ["".join(o.get("text", "") or json.dumps(o.get("data", {})) for o in c.outputs) for c in checks]
    assert checks and all("Traceback" not in t and "fail" not in t.lower() for t in text), text
    print(f"notebook self-check: {len(checks)} stage cells passed")


if __name__ == "__main__":
    check_reference_and_stub()
    check_notebook_self_check()
    print("platform smoke suite: all passed")
