"""Every verdict of the reference and the corpus, as one JSON file: the before-and-after of a change
that must not change behaviour (a refactor, a new Python or torch).

    python bench/verdicts.py --out before.json      # on the old tree
    python bench/verdicts.py --out after.json       # on the new one
    python bench/verdicts.py --compare before.json after.json
    python bench/verdicts.py --start portable --out after.json   # through another transport
    python bench/verdicts.py --one-lane --out after.json          # each level's run in its one child

Grades solutions/ (all eight levels) and every case of tests/corpus, the device mistakes and the
attacks of tests/attack_corpus.py, on the CPU through the warm pool (``--start``: another
transport; ``--one-lane``: each level's convergence run in the level's one child, as a class
graded with as many jobs as cores does), and writes each check's id, score, verdict and message.
``--compare`` prints every check whose score or message differs and exits 1 if any does. Timings
are left out: they differ every run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "bench"))
sys.path.insert(2, str(ROOT / "tests"))

from gpu_record import SEED, Case, _corpus_cases, _written_cases

_POOL = None


def _grade(case: Case) -> tuple[str, dict]:
    import torch

    from autograder.grading import grade
    from autograder.sandbox import Limits, start_pool

    global _POOL
    torch.set_num_threads(1)
    if _POOL is None or not _POOL.alive():
        _POOL = start_pool(os.environ.get("KIT_VERDICTS_START", "fork"))
    lane = not os.environ.get("KIT_VERDICTS_ONE_LANE")
    r = grade(Path(case.folder), case.levels, SEED, "cpu", Limits(**case.limits), pool=_POOL, converge_lane=lane)
    checks = {c.id: [c.score, c.max_score, c.passed, c.error, c.message] for c in r.checks}
    return f"{case.kind}/{case.name}", {
        "score": r.score,
        "max": r.max_score,
        "errors": list(r.errors),
        "checks": checks,
    }


def collect(jobs: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="kit-verdicts-") as tmp:
        os.chmod(tmp, 0o755)  # (the sandbox user reads the written submissions)
        cases = [Case("solutions", "reference", str(ROOT / "solutions"), list(range(1, 9)))]
        cases += _corpus_cases() + _written_cases(Path(tmp))
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as ex:
            return dict(sorted(ex.map(_grade, cases)))


def compare(before: dict, after: dict) -> list[str]:
    lines = []
    for key in sorted(set(before) | set(after)):
        b, a = before.get(key), after.get(key)
        if b is None or a is None:
            lines.append(f"{key}: only {'after' if b is None else 'before'}")
            continue
        if (b["score"], b["max"], b["errors"]) != (a["score"], a["max"], a["errors"]):
            lines.append(f"{key}: {b['score']}/{b['max']} {b['errors']} -> {a['score']}/{a['max']} {a['errors']}")
        for check in sorted(set(b["checks"]) | set(a["checks"])):
            if b["checks"].get(check) != a["checks"].get(check):
                lines.append(f"{key} {check}: {b['checks'].get(check)} -> {a['checks'].get(check)}")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 2)))
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    ap.add_argument("--start", choices=["fork", "spawn", "portable"], default="fork", help="the transport")
    ap.add_argument("--one-lane", action="store_true", help="no convergence lane: the run in the level's one child")
    args = ap.parse_args(argv)
    if args.compare:
        before, after = (json.loads(p.read_text()) for p in args.compare)
        lines = compare(before, after)
        n = sum(len(v["checks"]) for v in before.values())
        print("\n".join(lines) or f"identical: {len(before)} submissions, {n} checks")
        return 1 if lines else 0
    if not args.out:
        ap.error("give --out FILE or --compare BEFORE AFTER")
    os.environ["KIT_VERDICTS_START"] = args.start  # (read by the workers, which are spawned)
    if args.one_lane:
        os.environ["KIT_VERDICTS_ONE_LANE"] = "1"
    verdicts = collect(args.jobs)
    args.out.write_text(json.dumps(verdicts, indent=1, sort_keys=True))
    print(f"{len(verdicts)} submissions, {sum(len(v['checks']) for v in verdicts.values())} checks -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
