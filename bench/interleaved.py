"""Before and after a change: ``check`` of the reference by two trees in turn, paired round by round.

    python bench/interleaved.py 6f28516 HEAD --rounds 20            # all eight levels
    python bench/interleaved.py 6f28516 HEAD --rounds 20 --levels 4
    python bench/interleaved.py /some/other/checkout HEAD

Each tree is a git revision of this repository (checked out for the run in a temporary worktree,
removed after) or a directory holding one. Every round runs ``python -m autograder check --dir
solutions`` once from each tree (this repository's ``solutions/``, the tree's own ``autograder`` on
``PYTHONPATH``), then a bare ``python -c "import torch"``; the machine's swings within minutes hit
both alike. Prints each tree's median, the median and mean of the per-round differences (second
minus first) and in how many rounds the second was faster: on a machine whose speed moves by a
fifth between minutes, the pairs say what two medians cannot.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _tree(spec: str, stack: ExitStack) -> Path:
    """A directory holding the tree ``spec`` names: the directory itself, or a worktree of the revision."""
    if Path(spec).is_dir():
        return Path(spec).resolve()
    rev = subprocess.run(
        ["git", "rev-parse", "--verify", f"{spec}^{{commit}}"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    where = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kit-tree-"))) / rev[:12]
    subprocess.run(["git", "worktree", "add", "--detach", "-q", str(where), rev], cwd=ROOT, check=True)
    stack.callback(subprocess.run, ["git", "worktree", "remove", "--force", str(where)], cwd=ROOT, check=False)
    return where


def _check_seconds(tree: Path, levels: list[str]) -> float:
    env = dict(os.environ, PYTHONPATH=str(tree), KIT_HISTORY="off")
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "autograder", "check", *levels, "--dir", str(ROOT / "solutions")],
        cwd=tree,
        env=env,
        stdout=subprocess.DEVNULL,
        check=True,
    )
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("before", help="a git revision or a directory")
    ap.add_argument("after", help="a git revision or a directory")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--levels", nargs="*", default=[], help="levels to check (default: all)")
    args = ap.parse_args(argv)
    with ExitStack() as stack:
        trees = [_tree(args.before, stack), _tree(args.after, stack)]
        for tree in trees:  # (each tree's first run compiles its bytecode: out of the figures)
            _check_seconds(tree, args.levels)
        before, after, torch_import = [], [], []
        for _ in range(args.rounds):
            before.append(_check_seconds(trees[0], args.levels))
            after.append(_check_seconds(trees[1], args.levels))
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import torch"], check=True)
            torch_import.append(time.perf_counter() - t0)
    diffs = [b - a for a, b in zip(before, after)]
    scale = statistics.median(torch_import)
    print(f"python -c 'import torch': {scale:.2f} s (median of {args.rounds})")
    for name, times in ((args.before, before), (args.after, after)):
        print(f"{name}: median {statistics.median(times):.2f} s, {statistics.median(times) / scale:.2f} x import torch")
    print(
        f"{args.after} - {args.before}, per round: median {statistics.median(diffs):+.3f} s, "
        f"mean {statistics.mean(diffs):+.3f} s; {args.after} faster in {sum(d < 0 for d in diffs)} of {len(diffs)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
