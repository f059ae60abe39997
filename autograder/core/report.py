"""The result model: one grade, many renderings (terminal, JSON, and later Gradescope, CSV, HTML).

The JSON form is the contract's schema (``CONTRACT.md``): ``score``, ``max_score`` and ``checks``
with ``level``, ``stage``, ``name``, ``score``, ``max_score``, ``passed`` and ``message``. Extra keys
(seed, device, versions, timings, errors) are additions, never renames.
"""

from __future__ import annotations

import os
import platform
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import neutralise


@dataclass
class CheckResult:
    id: str
    level: int
    stage: str
    name: str
    score: float
    max_score: float
    passed: bool
    message: str = ""
    device: str = "cpu"
    seconds: float = 0.0
    error: bool = False  # the grader failed here: not a score, an error to report
    diagnosis: str | None = None

    def as_json(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k not in ("error", "diagnosis") or v}
        d["score"] = float(self.score)
        d["max_score"] = float(self.max_score)
        return d


@dataclass
class Report:
    checks: list[CheckResult] = field(default_factory=list)
    seed: int = 0
    device: str = "cpu"
    levels: list[int] = field(default_factory=list)
    versions: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    submission: str = ""
    submission_hash: str = ""
    level_notes: dict = field(default_factory=dict)  # level -> why it could not load
    errors: list[str] = field(default_factory=list)  # grader errors (not student faults)
    sandbox: dict = field(default_factory=dict)  # the protections that held for the student's process
    curves: dict = field(default_factory=dict)  # level -> {"student": [...], "reference": [...]} (HTML only)

    @property
    def score(self) -> float:
        return round(sum(c.score for c in self.checks), 4)

    @property
    def max_score(self) -> float:
        return round(sum(c.max_score for c in self.checks), 4)

    def level_score(self, level: int) -> tuple[float, float]:
        cs = [c for c in self.checks if c.level == level]
        return round(sum(c.score for c in cs), 4), round(sum(c.max_score for c in cs), 4)

    def as_json(self) -> dict:
        return {
            "score": self.score,
            "max_score": self.max_score,
            "checks": [c.as_json() for c in self.checks],
            "seed": self.seed,
            "device": self.device,
            "levels": {
                str(lv): dict(
                    zip(("score", "max_score"), self.level_score(lv)),
                    **({"note": self.level_notes[lv]} if lv in self.level_notes else {}),
                )
                for lv in self.levels
            },
            "versions": self.versions,
            "timings": self.timings,
            "submission": self.submission,
            "submission_sha256": self.submission_hash,
            "errors": self.errors,
            "sandbox": self.sandbox,
            **({"curves": {str(k): v for k, v in self.curves.items()}} if self.curves else {}),
        }

    def to_json(self) -> str:
        """The JSON report: finite numbers only (a NaN becomes null with the reason beside it)."""
        return neutralise.json_dumps(self.as_json(), indent=2)

    @classmethod
    def from_json(cls, data: dict) -> Report:
        checks = [
            CheckResult(**{k: v for k, v in c.items() if k in CheckResult.__dataclass_fields__})
            for c in data.get("checks", [])
        ]
        levels = sorted(int(k) for k in data.get("levels", {}))
        notes = {int(k): v["note"] for k, v in data.get("levels", {}).items() if "note" in v}
        return cls(
            checks=checks,
            seed=data.get("seed", 0),
            device=data.get("device", "cpu"),
            levels=levels,
            versions=data.get("versions", {}),
            timings=data.get("timings", {}),
            submission=data.get("submission", ""),
            submission_hash=data.get("submission_sha256", ""),
            level_notes=notes,
            errors=data.get("errors", []),
            sandbox=data.get("sandbox", {}),
            curves={int(k): v for k, v in data.get("curves", {}).items()},
        )


def versions() -> dict:
    import numpy
    import torch

    # Plain str: torch's is a TorchVersion, and a report handed from a class grader's worker to the
    # main process would make that process import torch (2.5 s) only to unpickle it.
    return {
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "numpy": str(numpy.__version__),
        "kit": _kit_version(),
    }


def _kit_version() -> str:
    try:
        from importlib.metadata import version

        return version("pytorch-examples-kit")
    except Exception:  # noqa: BLE001 - not installed (run from a checkout)
        return "0+checkout"


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: Path, text: str, *, private: bool = False) -> None:
    """Write a file so that readers see the old content or the new one, never a half.

    The file gets the mode an ordinary ``open`` would give it (0666 less the umask), so a teaching
    assistant or a web server in the instructor's group can read the feedback (mkstemp alone would
    leave 0600); ``private`` files (the course's seed) stay 0600 whatever the umask.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):  # (POSIX; Windows files have ACLs, not modes)
            os.fchmod(fd, 0o600 if private else 0o666 & ~current_umask())
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
