"""The GPU device check: every grade on a machine with a GPU, on CUDA and on its CPU, compared.

    python bench/gpu_record.py [--out docs/gpu.md] [--jobs N] [--methods fork,spawn,portable]

One prepared run for a machine with a CUDA device (the `device` tool's machine), within 5 minutes on
16 cores with only torch, numpy, pytest and psutil installed. It grades, under every start method
of the sandbox (fork, spawn, portable) and on both devices (``--device cpu`` and ``--device cuda``):

- the reference (solutions/, all eight levels): 100 / 100 on the CPU, 87.5 / 87.5 on CUDA (the numpy
  level has no CUDA checks);
- the whole corpus (tests/corpus: every broken and correct case), the device mistakes and what a GPU
  allows (tests/test_device_mistakes.py), and the attacks of the torch levels (tests/attack_corpus.py);

and compares each submission's verdicts check by check, CPU against CUDA. It writes the record
(date, device, torch, CUDA, checks run and passed, every difference, seconds per level on each
device, CUDA's cost against the CPU's) to ``--out`` and exits 1 if anything differs or the
reference lost a point. Without a CUDA device it says so and exits 2, writing nothing, unless
``--stand-in cpu`` is given: then "cuda" is graded on the CPU too (a test of this script, whose
record says so: ``tests/test_gpu_machine.py`` runs it that way on a few cases).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "tests"))

SEED = 20240601  # the kit's default seed (tests/conftest.py)
METHODS = ("fork", "spawn", "portable")


@dataclass
class Case:
    """One submission to grade: a folder, the levels, and the limits it runs under."""

    name: str
    kind: str  # reference | correct | broken | device | legal | attack
    folder: str
    levels: list[int]
    limits: dict = field(default_factory=dict)


def _corpus_cases() -> list[Case]:
    import importlib.util

    corpus = ROOT / "tests" / "corpus"
    spec = importlib.util.spec_from_file_location("kit_corpus_manifest", corpus / "manifest.py")
    manifest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(manifest)
    return [
        Case(c["case"], c["kind"], str(corpus / c["kind"] / c["case"]), [c["level"]])
        for c in manifest.CASES
        if not c.get("xfail_reason")
    ]


def _written_cases(scratch: Path) -> list[Case]:
    """The device mistakes, what a GPU allows, and the attacks on torch levels, written as folders."""
    from attack_corpus import ATTACKS
    from autograder.core.curriculum import LEVELS
    from test_device_mistakes import LEGAL, MISTAKES, _write_edited

    out = []
    for kind, table in (("device", [m[:4] for m in MISTAKES]), ("legal", LEGAL)):
        for name, level, old, new in table:
            folder = scratch / f"{kind}-{name}"
            folder.mkdir()
            _write_edited(folder, level, old, new)
            out.append(Case(name, kind, str(folder), [level]))
    for attack in ATTACKS:
        if LEVELS[attack.level].numpy:  # no CUDA checks there
            continue
        folder = scratch / f"attack-{attack.name}"
        folder.mkdir()
        (folder / f"{LEVELS[attack.level].module}.py").write_text(attack.source())
        for rel, text in attack.extra_files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text)
        out.append(Case(attack.name, "attack", str(folder), [attack.level], dict(attack.limits)))
    return out


# --------------------------------------------------------------------------- in a worker process
_POOLS: dict = {}


def _grade(case: Case, device: str, grade_as: str, method: str) -> dict:
    """Grade one case on one device under one start method (a worker keeps one pool per method)."""
    import torch

    from autograder.grading import grade
    from autograder.sandbox import Limits, start_pool

    torch.set_num_threads(1)
    if not _POOLS:
        import atexit

        atexit.register(_close_pools)
    if method not in _POOLS or not _POOLS[method].alive():
        _POOLS[method] = start_pool(method)
    t0 = time.perf_counter()
    r = grade(Path(case.folder), case.levels, SEED, grade_as, Limits(**case.limits), pool=_POOLS[method])
    return {
        "case": case.name,
        "kind": case.kind,
        "device": device,
        "method": method,
        "score": r.score,
        "max": r.max_score,
        "errors": list(r.errors),
        "wall_s": time.perf_counter() - t0,
        "per_level_s": dict(r.timings.get("per_level_s", {})),
        "checks": {c.id.split("[")[0]: (c.passed, c.error, c.message[:300]) for c in r.checks},
    }


def _close_pools() -> None:
    for pool in _POOLS.values():
        pool.close()


# --------------------------------------------------------------------------- the record
# A check may rightly differ between the devices when the submission ignores the device it is given
# (a CPU tensor made inside forward, a hard-coded .cuda()): the side that fails says so in its
# message. Any other difference is the grader's, and fails the record.
DEVICE_BOUND = re.compile(r"device|Tensor\.cpu\(\)|\bcuda\b", re.I)
VERDICT = {(True, False): "pass", (False, False): "fail"}


def _differences(results: list[dict]) -> tuple[int, list[str], list[str]]:
    """Checks compared, and the checks whose verdicts differ: (explained by the device, unexplained)."""
    by = {(r["case"], r["kind"], r["method"], r["device"]): r for r in results}
    compared, explained, unexplained = 0, [], []
    for (case, kind, method, device), cpu in sorted(by.items()):
        if device != "cpu":
            continue
        cuda = by.get((case, kind, method, "cuda"))
        if cuda is None:
            continue
        for check, (passed, error, msg) in sorted(cpu["checks"].items()):
            if check not in cuda["checks"]:
                continue  # (the numpy level: no CUDA variant)
            compared += 1
            c_passed, c_error, c_msg = cuda["checks"][check]
            if (passed, error) == (c_passed, c_error):
                continue
            failing = msg if not passed else c_msg
            row = (
                f"| {kind} {case} | {method} | {check} | {VERDICT.get((passed, error), 'error')} "
                f"| {VERDICT.get((c_passed, c_error), 'error')} | {failing.replace('|', '/')[:160]} |"
            )
            bound = kind not in ("correct", "legal", "reference") and not (error or c_error)
            (explained if bound and DEVICE_BOUND.search(failing) else unexplained).append(row)
    return compared, explained, unexplained


def _median(values: list[float]) -> float:
    values = sorted(values)
    return values[len(values) // 2] if values else float("nan")


def record(results: list[dict], args, device_name: str, seconds: float, not_run: int) -> tuple[str, bool]:
    import torch

    ref = [r for r in results if r["kind"] == "reference"]
    cuda_ref = [r for r in ref if r["device"] == "cuda"]
    ran = sum(len(r["checks"]) for r in cuda_ref)
    failed = sum(1 for r in cuda_ref for passed, _e, _m in r["checks"].values() if not passed)
    compared, explained, diffs = _differences(results)
    n_cases = len({(r["kind"], r["case"]) for r in results if r["kind"] != "reference"})
    lines = [
        f"# GPU record — {datetime.date.today().isoformat()}",
        "",
        f"Device: {device_name}; torch {torch.__version__} (CUDA {torch.version.cuda}); Python "
        f"{platform.python_version()}; {os.cpu_count()} CPU cores; TF32 off.",
        f"Command: `python bench/gpu_record.py --jobs {args.jobs} --methods {','.join(args.methods)}` "
        f"({seconds:.0f} s; seed {SEED}).",
    ]
    if args.stand_in:
        lines += ["", "**A stand-in run: no CUDA device; the 'cuda' columns were graded on the CPU.**"]
    lines += [
        "",
        f"CUDA checks run: {ran}; failed: {failed}.",
        f"Corpus verdicts compared, CPU against CUDA: {compared} checks of {n_cases} submissions under "
        f"{len(args.methods)} start method(s); differing: {len(explained) + len(diffs)}, of which "
        f"{len(explained)} because the submission ignores its device and {len(diffs)} unexplained.",
    ]
    if not_run:
        lines.append(f"Not run within the time budget ({args.budget:g} s): {not_run} grades.")
    lines += [
        "",
        "## The reference",
        "",
        "| start method | --device cpu | --device cuda | cpu s | cuda s | cuda / cpu |",
        "|---|---|---|---|---|---|",
    ]
    ok = not diffs and not not_run
    for method in args.methods:
        cpu = [r for r in ref if r["method"] == method and r["device"] == "cpu"]
        cuda = [r for r in ref if r["method"] == method and r["device"] == "cuda"]
        if not cpu or not cuda:
            lines.append(f"| {method} | not run | not run | | | |")
            ok = False
            continue
        c, g = cpu[0], cuda[0]
        ok &= c["score"] == c["max"] and g["score"] == g["max"] and not c["errors"] and not g["errors"]
        lines.append(
            f"| {method} | {c['score']:g} / {c['max']:g} | {g['score']:g} / {g['max']:g} | {c['wall_s']:.1f} "
            f"| {g['wall_s']:.1f} | {g['wall_s'] / c['wall_s']:.2f} |"
        )
    lines += ["", "## Seconds per level (the reference; median over start methods)", ""]
    lines += ["| level | cpu s | cuda s |", "|---|---|---|"]
    for level in range(1, 9):
        cpu_s = _median([r["per_level_s"].get(str(level), 0.0) for r in ref if r["device"] == "cpu"])
        cuda_s = _median([r["per_level_s"].get(str(level), 0.0) for r in ref if r["device"] == "cuda"])
        lines.append(f"| {level} | {cpu_s:.3f} | {cuda_s:.3f} |")
    by_kind: dict = defaultdict(lambda: [0, 0])
    for r in results:
        if r["kind"] != "reference":
            by_kind[(r["kind"], r["device"])][0] += 1
            by_kind[(r["kind"], r["device"])][1] += r["score"] == r["max"]
    lines += ["", "## The corpus", "", "| kind | device | graded | full marks |", "|---|---|---|---|"]
    for (kind, device), (n, full) in sorted(by_kind.items()):
        lines.append(f"| {kind} | {device} | {n} | {full} |")
    for r in results:
        if r["kind"] in ("correct", "legal") and r["score"] != r["max"]:
            ok = False
            lines.append(f"\nA correct submission lost points: {r['case']} ({r['method']}, {r['device']}).")
    header = ["| submission | start | check | cpu | cuda | the failing side's message |", "|---|---|---|---|---|---|"]
    if diffs:
        lines += ["", "## Unexplained differences (the grader's)", ""] + header + diffs[:200]
    if explained:
        lines += [
            "",
            "## Differences because the submission ignores its device",
            "",
            "A broken submission that makes its tensors on the CPU, or hard-codes `.cuda()`, fails where "
            "the grading device differs from the one it assumed; correct submissions never differ.",
            "",
        ]
        lines += header + explained[:200]
    errors = [(r["case"], r["method"], r["device"], e) for r in results for e in r["errors"]]
    if errors:
        ok = False
        lines += ["", "## Grader errors", ""] + [f"- {c} ({m}, {d}): {e[:200]}" for c, m, d, e in errors[:50]]
    return "\n".join(lines) + "\n", ok


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=None, help="the record (default docs/gpu.md; required with --stand-in)")
    ap.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 2) - 2))
    ap.add_argument("--methods", type=lambda s: s.split(","), default=list(METHODS))
    ap.add_argument("--limit", type=int, default=None, help="grade only the first N submissions of each kind")
    ap.add_argument("--budget", type=float, default=280.0, help="seconds after which no new grade starts")
    ap.add_argument("--json", type=Path, default=None, help="also write every grade's verdicts here")
    ap.add_argument("--stand-in", choices=["cpu"], default=None, help="no GPU: grade 'cuda' on the CPU (a test)")
    args = ap.parse_args(argv)
    import torch

    if args.stand_in:
        if args.out is None:
            ap.error("--stand-in writes no record of its own: give --out")
        device_name, grade_cuda_as = "none (stand-in)", "cpu"
    elif not torch.cuda.is_available():
        print("no CUDA device on this machine: nothing to record", file=sys.stderr)
        return 2
    else:
        device_name, grade_cuda_as = torch.cuda.get_device_name(0), "cuda"
    out = args.out or ROOT / "docs" / "gpu.md"
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kit-gpu-record-") as tmp:
        os.chmod(tmp, 0o755)  # (the sandbox user reads the written submissions)
        cases = [Case("solutions", "reference", str(ROOT / "solutions"), list(range(1, 9)))]
        rest = _corpus_cases() + _written_cases(Path(tmp))
        if args.limit is not None:
            kept: dict = defaultdict(int)
            rest = [c for c in rest if (kept.__setitem__(c.kind, kept[c.kind] + 1) or kept[c.kind] <= args.limit)]
        cases += rest
        # the reference first, then the corpus one start method at a time: whatever the time budget
        # leaves out is the last method's tail, never half of a CPU / CUDA pair
        tasks = [
            (case, device, grade_cuda_as if device == "cuda" else "cpu", method)
            for group in ([cases[0]], cases[1:])
            for method in args.methods
            for case in group
            for device in ("cuda", "cpu")
        ]
        results, not_run = [], 0
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) as ex:
            futures = {ex.submit(_grade, *task): task for task in tasks}
            for fut in as_completed(futures):
                if fut.cancelled():  # left out by the time budget: counted in not_run, not an error
                    continue
                try:
                    results.append(fut.result())
                except Exception as exc:  # noqa: BLE001 - one grade that broke is reported, not fatal
                    case, device, _as, method = futures[fut]
                    results.append(
                        {
                            "case": case.name,
                            "kind": case.kind,
                            "device": device,
                            "method": method,
                            "score": 0.0,
                            "max": 1.0,
                            "errors": [f"{type(exc).__name__}: {exc}"],
                            "wall_s": 0.0,
                            "per_level_s": {},
                            "checks": {},
                        }
                    )
                if time.perf_counter() - t0 > args.budget:
                    not_run += sum(f.cancel() for f in futures if not f.done())
    text, ok = record(results, args, device_name, time.perf_counter() - t0, not_run)
    out.write_text(text)
    if args.json:  # every verdict, to rebuild or compare a record later
        args.json.write_text(json.dumps(results, indent=1))
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
