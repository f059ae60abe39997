"""Gradescope: build the autograder zip (``gradescope build``) and grade one submission in it (``run``).

The command line of both: ``python -m autograder gradescope build|run`` and ``python -m
autograder.integrations.gradescope run`` (what a bundle's ``run_autograder`` runs).
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from pathlib import Path

from ...core.report import write_atomic
from ...core.settings import parse_levels
from .bundle import build
from .config import CONFIG_NAME, DEFAULT_LIMITS, VISIBILITIES, load_config
from .runner import run


# ============================================================================ command line
def cmd_build(args) -> int:
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    limits = {
        k: v
        for k, v in (
            ("call_seconds", args.call_timeout),
            ("level_seconds", args.level_timeout),
            ("run_seconds", args.run_timeout),
        )
        if v is not None
    }
    if args.memory_mb is not None:
        limits["memory_bytes"] = int(args.memory_mb * 1024**2)
    config = build(Path(args.out), parse_levels(args.levels), seed, args.hidden or [], args.hidden_visibility, limits)
    print(
        f"wrote {args.out}: levels {config['levels']}, seed {config['seed']}, torch {config['pins']['torch']} (CPU), "
        f"kit {config['kit_version']}"
    )
    level_args = "".join(f" --level {lv}" for lv in config["levels"])
    print(
        f"on Gradescope: a Programming Assignment worth {12.5 * len(config['levels']):g} points "
        f"(12.5 per level); to grade the same way locally: python -m autograder grade DIR --seed "
        f"{config['seed']}{level_args}",
        file=sys.stderr,
    )
    return 0


def cmd_run(args) -> int:
    root = Path(args.root)
    config_path = Path(args.config) if args.config else root / "source" / CONFIG_NAME
    try:
        config = load_config(config_path)
    except Exception as exc:  # noqa: BLE001 - still owe Gradescope a results.json
        write_atomic(
            root / "results" / "results.json",
            json.dumps(
                {
                    "score": 0,
                    "output": "The autograder is misconfigured, so nothing was graded. Your instructor "
                    "can see why and regrade.",
                    "stdout_visibility": "hidden",
                    "tests": [],
                }
            )
            + "\n",
        )
        print(f"cannot read the configuration {config_path}: {exc}")
        return 0
    return run(root, config, log=lambda msg: print(msg, flush=True))


def register(subparsers) -> None:
    p = subparsers.add_parser("gradescope", help="build a Gradescope autograder zip, or run one (inside Gradescope)")
    sub = p.add_subparsers(dest="gradescope_command", required=True)
    b = sub.add_parser("build", help="write autograder.zip for Gradescope (docs/gradescope.md)")
    b.add_argument("--levels", type=int, nargs="+", default=None, help="levels to grade (default: all)")
    b.add_argument("--out", default="autograder.zip", help="where the zip goes (default: autograder.zip)")
    b.add_argument("--seed", type=int, default=None, help="the grading seed (default: a fresh random one, printed)")
    b.add_argument(
        "--hidden",
        action="append",
        metavar="PATTERN",
        help="check ids to hide until published, as shell patterns, e.g. '*.train.*' or '8.*' (repeatable)",
    )
    b.add_argument(
        "--hidden-visibility",
        default="after_published",
        choices=VISIBILITIES,
        help="what Gradescope shows of the hidden checks (default: after_published)",
    )
    for flag, key, what in (
        ("--call-timeout", "call_seconds", "one call of student code"),
        ("--level-timeout", "level_seconds", "all the calls of one level"),
        ("--run-timeout", "run_seconds", "all levels"),
    ):
        b.add_argument(flag, type=float, default=None, help=f"seconds for {what} (default {DEFAULT_LIMITS[key]:g})")
    b.add_argument(
        "--memory-mb",
        type=float,
        default=None,
        help=f"resident memory of one student process (default {DEFAULT_LIMITS['memory_bytes'] // 2**20})",
    )
    b.set_defaults(func=cmd_build)
    r = sub.add_parser("run", help="grade /autograder/submission into /autograder/results/results.json")
    r.add_argument("--root", default="/autograder", help="the Gradescope tree (default: /autograder)")
    r.add_argument("--config", default=None, help=f"the configuration (default: ROOT/source/{CONFIG_NAME})")
    r.set_defaults(func=cmd_run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder.integrations.gradescope", description=__doc__.split("\n")[0]
    )
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["gradescope", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args) or 0)
