"""Building the Gradescope autograder zip (``gradescope build``): a wheel of this checkout, ``setup.sh``
(the image's virtual environment, pinned to this environment's versions), ``run_autograder`` and the
configuration (``build``). ``docs/gradescope.md`` is the instructor's guide.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ...core.settings import repo_root
from .config import CONFIG_NAME, DEFAULT_LIMITS

#: where setup.sh puts the kit's virtual environment (outside /autograder, which the sandbox hides)
VENV = "/opt/kit-venv"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


# ============================================================================ build
def _pins() -> dict:
    """The versions of this environment, where the kit's own tests pass: Gradescope gets the same."""
    import numpy
    import pytest
    import torch

    return {"torch": torch.__version__.split("+")[0], "numpy": numpy.__version__, "pytest": pytest.__version__}


def _check_pins(pins: dict) -> None:
    """Refuse a torch or numpy version outside the kit's own requirements (pyproject.toml)."""
    try:
        from importlib.metadata import requires

        from packaging.requirements import Requirement

        reqs = {r.name: r for r in map(Requirement, requires("pytorch-examples-kit") or [])}
    except Exception:  # noqa: BLE001 - no metadata or no packaging: nothing to check against
        return
    for name, version in pins.items():
        if name in reqs and not reqs[name].specifier.contains(version, prereleases=True):
            raise SystemExit(f"autograder: {name}=={version} is outside the kit's requirement {reqs[name]}")


def build_wheel(dest: Path) -> Path:
    """A wheel of this checkout, built in a temporary copy (so the checkout gains no build/ folder)."""
    src = repo_root()
    with tempfile.TemporaryDirectory(prefix="kit-wheel-") as tmp:
        copy = Path(tmp) / "src"
        copy.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(src / name, copy / name)
        shutil.copytree(src / "autograder", copy / "autograder", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--no-build-isolation",
                "--no-cache-dir",
                "-q",
                "-w",
                str(dest),
                str(copy),
            ],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise SystemExit(f"autograder: building the kit's wheel failed:\n{proc.stdout}\n{proc.stderr}")
    wheels = sorted(dest.glob("pytorch_examples_kit-*.whl"))
    if not wheels:
        raise SystemExit("autograder: pip built no wheel")
    return wheels[-1]


SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (docs/gradescope.md).
# Lean on purpose: a virtual environment with CPU-only torch and the kit, no conda, and apt only
# when the image lacks a Python >= 3.11 or its venv module. Any failure fails the build.
set -euo pipefail
cd "$(dirname "$0")"

VENV=__VENV__
TORCH_VERSION=__TORCH__
NUMPY_VERSION=__NUMPY__
PYTEST_VERSION=__PYTEST__
WHEEL=__WHEEL__

apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "$@"
}

PY=""
for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        PY="$(command -v "$candidate")"
        break
    fi
done
if [ -z "$PY" ]; then            # Ubuntu 22.04 ships 3.10; its universe has 3.11
    apt_install python3.11 python3.11-venv
    PY="$(command -v python3.11)"
fi
if ! "$PY" -m venv "$VENV"; then # Ubuntu leaves ensurepip out of its python3.X package
    rm -rf "$VENV"
    apt_install "python$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv"
    "$PY" -m venv "$VENV"
fi

PIP=("$VENV/bin/python" -m pip install --no-cache-dir --disable-pip-version-check)
"${PIP[@]}" --upgrade pip
"${PIP[@]}" --index-url __INDEX__ "torch==${TORCH_VERSION}+cpu"
"${PIP[@]}" "numpy==${NUMPY_VERSION}" "pytest==${PYTEST_VERSION}" packaging
"${PIP[@]}" --no-deps "./${WHEEL}"

# Fail the build now, not at the first submission: the kit imports, and torch is a CPU build.
"$VENV/bin/python" - <<'EOF'
import torch, numpy, autograder.integrations.gradescope
assert torch.version.cuda is None, f"torch {torch.__version__} is not a CPU-only build"
print("kit ready: torch", torch.__version__, "numpy", numpy.__version__)
EOF
chmod -R a+rX "$VENV"
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this once per submission, as root. The Python side writes results/results.json;
# should it fail to start at all, a valid results.json saying so is written here instead.
set -u
ROOT="${KIT_AUTOGRADER_ROOT:-/autograder}"
PY="${KIT_PYTHON:-__VENV__/bin/python}"
"$PY" -m autograder.integrations.gradescope run --root "$ROOT" --config "$ROOT/source/__CONFIG__"
status=$?
if [ "$status" -ne 0 ]; then
    mkdir -p "$ROOT/results"
    printf '%s\n' '{"score": 0, "output": "The autograder could not start, so nothing was graded. Your instructor can see why and regrade.", "stdout_visibility": "hidden", "tests": []}' > "$ROOT/results/.results.json.tmp"
    mv -f "$ROOT/results/.results.json.tmp" "$ROOT/results/results.json"
fi
exit 0
"""  # noqa: E501 - the fallback results.json is one printf line


def build(
    out: Path, levels: list[int], seed: int, hidden: list[str], hidden_visibility: str, limits: dict | None = None
) -> dict:
    """Write the Gradescope zip; return its configuration."""
    from ...core.report import _kit_version

    pins = _pins()
    _check_pins(pins)
    config = {
        "kit_version": _kit_version(),
        "levels": sorted(levels),
        "seed": int(seed),
        "hidden": list(hidden),
        "hidden_visibility": hidden_visibility,
        "limits": {**DEFAULT_LIMITS, **(limits or {})},
        "pins": pins,
    }
    with tempfile.TemporaryDirectory(prefix="kit-gradescope-") as tmp:
        wheel = build_wheel(Path(tmp))
        config["wheel"] = wheel.name
        setup = SETUP_SH
        for key, value in {
            "__VENV__": VENV,
            "__TORCH__": pins["torch"],
            "__NUMPY__": pins["numpy"],
            "__PYTEST__": pins["pytest"],
            "__WHEEL__": wheel.name,
            "__INDEX__": TORCH_CPU_INDEX,
        }.items():
            setup = setup.replace(key, value)
        runner = RUN_AUTOGRADER.replace("__VENV__", VENV).replace("__CONFIG__", CONFIG_NAME)
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".part")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, text, mode in (
                ("setup.sh", setup, 0o755),
                ("run_autograder", runner, 0o755),
                (CONFIG_NAME, json.dumps(config, indent=2) + "\n", 0o644),
            ):
                info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
                info.external_attr = (stat.S_IFREG | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, text)
            zf.write(wheel, wheel.name)
        os.replace(partial, out)
    return config
