"""Declared ranges are tested ranges: the kit's smoke suite in a throw-away venv with the named
torch and numpy, through every start method, and one row per start method in docs/versions.md.

    python bench/test_versions.py --torch 2.4.1 --numpy 2.0.0     # make test-versions TORCH=2.4.1 NUMPY=2.0.0
    python bench/test_versions.py --torch 2.13.0+cpu --numpy 1.26.0 --python python3.12

The smoke suite is the kit's own tests, run from the venv with ``KIT_SANDBOX_START`` set (the
tests' pool is ``sandbox.start_pool()``): the reference gets full marks at every level
(tests/test_grading.py), the stubs get 0 with "not implemented" and no grader error, and every
corpus case gets its manifest's verdict (tests/test_corpus.py; ``--corpus EXPR`` narrows it with a
pytest ``-k`` expression, and the row says how many cases ran). Whether the pair lies inside
pyproject.toml's declared ranges is read from pyproject.toml itself, so a row outside them (a pair
kept to show why a floor is where it is) says so.

The venv is made from ``--python`` (default: this interpreter). Where that interpreter already has
the kit's other requirements, the venv sees them (``--system-site-packages``) and only torch and
numpy are installed into it (they then come from the venv: its site-packages is searched first);
otherwise everything in pyproject.toml's dependencies is installed. On Linux, PyPI's torch is the
CUDA build (about 3 GB with its libraries): time and disk for each version.

The table in docs/versions.md is written only by this script: each run replaces the rows of its
(Python, torch, numpy, start method) and keeps the others.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "docs" / "versions.md"
BEGIN, END = "<!-- versions table: written by bench/test_versions.py -->", "<!-- end of versions table -->"
COLUMNS = ("Python", "torch", "numpy", "start", "declared range", "reference", "stubs", "corpus", "failed", "s", "date")
HEADER = "| " + " | ".join(COLUMNS) + " |\n" + "|---" * len(COLUMNS) + "|"
SMOKE_TESTS = ["tests/test_grading.py", "tests/test_corpus.py"]
SMOKE_K = "test_reference_scores_full_marks or test_stubs_score_zero or test_corpus_case"


def run(cmd, **kw) -> subprocess.CompletedProcess:
    print("+", " ".join(map(str, cmd)), flush=True)
    return subprocess.run(cmd, **kw)


def python_version(python: str) -> str:
    out = run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True)
    return out.stdout.strip()


def has_kit_requirements(python: str) -> bool:
    names = ["rich", "psutil", "nbformat", "nbgrader", "pytest", "threadpoolctl", "copydetect"]
    probe = f"import importlib.util as u, sys; sys.exit(any(u.find_spec(m) is None for m in {names!r}))"
    return run([python, "-c", probe], capture_output=True).returncode == 0


def declared() -> dict[str, str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    out = {}
    for d in deps:
        name = re.split(r"[\s;<>=!~\[(]", d, maxsplit=1)[0].lower()
        out[name] = d
    return out


def in_declared_range(torch: str, numpy: str) -> str:
    from packaging.requirements import Requirement

    deps = declared()
    inside = []
    for name, version in (("torch", torch), ("numpy", numpy)):
        req = Requirement(deps[name])
        inside.append(req.specifier.contains(version, prereleases=True))
    return "inside" if all(inside) else "outside"


def make_venv(args, venv: Path) -> Path:
    python = venv / "bin" / "python"
    if python.exists():
        return python
    shared = has_kit_requirements(args.python)
    flags = ["--system-site-packages"] if shared else []
    run([args.python, "-m", "venv", *flags, str(venv)], check=True)
    wanted = [f"torch=={args.torch}", f"numpy=={args.numpy}"]
    if not shared:
        deps = [d for n, d in declared().items() if n not in ("torch", "numpy")]
        wanted += deps
    # --ignore-installed: torch, numpy and their requirements go into the venv even where the base
    # has them (which would otherwise satisfy pip, and be what the venv imports)
    ignore = ["--ignore-installed"] if shared else []
    run([str(python), "-m", "pip", "install", "--quiet", *ignore, *wanted], check=True)
    return python


def installed(python: Path) -> dict:
    code = (
        "import json, sys, torch, numpy; print(json.dumps({'python': '%d.%d.%d' % sys.version_info[:3],"
        " 'torch': torch.__version__, 'numpy': numpy.__version__, 'torch_file': torch.__file__}))"
    )
    out = run([str(python), "-c", code], capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["import failed"])[-1]}
    return json.loads(out.stdout)


def smoke(python: Path, start: str, corpus: str | None, xml: Path) -> dict:
    """The smoke suite through one start method: counts per part, and the failures' names."""
    k = (
        SMOKE_K
        if not corpus
        else f"test_reference_scores_full_marks or test_stubs_score_zero or (test_corpus_case and ({corpus}))"
    )
    env = {k_: v for k_, v in os.environ.items() if not k_.startswith("KIT_")}
    env |= {"KIT_SANDBOX_START": start, "KIT_HISTORY": "off", "PYTHONDONTWRITEBYTECODE": "1"}
    started = time.monotonic()
    run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *SMOKE_TESTS, "-k", k, f"--junitxml={xml}"],
        cwd=ROOT,
        env=env,
    )
    seconds = time.monotonic() - started
    parts = {"reference": [0, 0], "stubs": [0, 0], "corpus": [0, 0], "other": []}
    for case in ET.parse(xml).getroot().iter("testcase"):
        name = case.get("name", "")
        ok = not any(child.tag in ("failure", "error") for child in case)
        skipped = any(child.tag == "skipped" for child in case)
        if skipped:
            continue
        part = (
            "reference"
            if name.startswith("test_reference_scores_full_marks")
            else "stubs"
            if name.startswith("test_stubs_score_zero")
            else "corpus"
            if name.startswith("test_corpus_case")
            else None
        )
        if part is None:
            if not ok:
                parts["other"].append(name)
            continue
        parts[part][0] += ok
        parts[part][1] += 1
        if not ok:
            parts["other"].append(name.removeprefix("test_corpus_case") + _why(case))
    parts["seconds"] = round(seconds)
    parts["load"] = os.getloadavg()[1] if hasattr(os, "getloadavg") else float("nan")  # (the last 5 minutes)
    return parts


def _why(case) -> str:
    """The first check a failed test names, with its message's start (a timeout, an import...)."""
    for child in case:
        if child.tag in ("failure", "error"):
            found = re.search(r"\('(\d\.[\w.]+)', '([^']{0,70})", child.get("message", "") + (child.text or ""))
            if found:
                return f" ({found[1]}: {found[2]})"
            first = (child.get("message") or "").splitlines()[:1]
            return f" ({first[0][:80]})" if first else ""
    return ""


def verdict(counts) -> str:
    got, total = counts
    if total == 0:
        return "not run"
    return ("✓ " if got == total else "✗ ") + f"{got}/{total}"


def write_rows(rows: list[dict]) -> None:
    text = TABLE.read_text() if TABLE.exists() else ""
    if BEGIN not in text:
        text = (text.rstrip() + "\n\n" if text else "") + f"{BEGIN}\n{HEADER}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    body, tail = rest.split(END, 1)
    keep = [ln for ln in body.strip().splitlines()[2:] if ln.startswith("|")]
    keys = {tuple(r[k] for k in ("python", "torch", "numpy", "start")) for r in rows}
    keep = [ln for ln in keep if tuple(c.strip() for c in ln.strip("|").split("|")[:4]) not in keys]
    new = [
        "| "
        + " | ".join(
            [
                r["python"],
                r["torch"],
                r["numpy"],
                r["start"],
                r["range"],
                r["reference"],
                r["stubs"],
                r["corpus"],
                r["other"],
                str(r["seconds"]),
                r["date"],
            ]
        )
        + " |"
        for r in rows
    ]
    lines = sorted(keep + new, key=lambda ln: [c.strip() for c in ln.strip("|").split("|")[:4]])
    TABLE.write_text(head + BEGIN + "\n" + HEADER + "\n" + "\n".join(lines) + "\n" + END + tail)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--torch", required=True, help="torch version, as pip names it (2.4.1, 2.13.0+cpu)")
    p.add_argument("--numpy", required=True)
    p.add_argument("--python", default=sys.executable, help="the interpreter the venv is made from")
    p.add_argument("--start", nargs="+", default=["fork", "spawn", "portable"])
    p.add_argument("--corpus", default=None, help="a pytest -k expression over the corpus cases (default: all)")
    p.add_argument("--venv", type=Path, default=None, help="where the venv goes (default ~/.cache/kit-versions/...)")
    p.add_argument("--out", type=Path, default=None, help="the table to update (default docs/versions.md)")
    p.add_argument("--no-write", action="store_true", help="print the rows, leave the table")
    args = p.parse_args(argv)
    global TABLE
    TABLE = args.out or TABLE
    pyver = python_version(args.python)
    venv = args.venv or Path.home() / ".cache" / "kit-versions" / f"py{pyver}-torch{args.torch}-numpy{args.numpy}"
    venv.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        python = make_venv(args, venv)
        have = installed(python)
    except subprocess.CalledProcessError as exc:
        have = {"error": f"the venv could not be made ({exc})"}
    base = {
        "python": pyver,
        "torch": args.torch,
        "numpy": args.numpy,
        "range": in_declared_range(args.torch, args.numpy),
        "date": dt.date.today().isoformat(),
    }
    if "error" in have:
        for start in args.start:
            rows.append(
                base
                | {
                    "start": start,
                    "reference": "✗ import",
                    "stubs": "—",
                    "corpus": "—",
                    "other": have["error"][:120].replace("|", "/"),
                    "seconds": 0,
                }
            )
    else:
        from packaging.version import Version

        for name in ("torch", "numpy"):  # (PyPI's torch 2.4.1 says 2.4.1+cu121: the local part may differ)
            want = Version(getattr(args, name))
            got = Version(have[name])
            assert got.public == want.public and (not want.local or got.local == want.local), have
        assert Path(have["torch_file"]).resolve().is_relative_to(venv.resolve()), have  # the venv's own torch
        for start in args.start:
            parts = smoke(python, start, args.corpus, venv / f"smoke-{start}.xml")
            rows.append(
                base
                | {
                    "start": start,
                    "reference": verdict(parts["reference"]),
                    "stubs": verdict(parts["stubs"]),
                    "corpus": verdict(parts["corpus"]) + (f" (-k {args.corpus})" if args.corpus else ""),
                    "other": ", ".join(parts["other"][:6]).replace("|", "/") or "none",
                    "seconds": f"{parts['seconds']} (load {parts['load']:.1f})",
                }
            )
    for r in rows:
        print(json.dumps(r, ensure_ascii=False))
    if not args.no_write:
        write_rows(rows)
        print(f"table: {TABLE}")
    ok = all(
        r["reference"].startswith("✓") and r["stubs"].startswith("✓") and r["corpus"].startswith("✓") for r in rows
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
