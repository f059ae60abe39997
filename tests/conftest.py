"""What the kit's tests share: the seed, one sandbox zygote for the whole session (forking a child
from it is cheap), and a loopback listener that attack tests use to see whether a child got out.

Test modules import the constant (``from conftest import SEED``): pytest puts tests/ on sys.path.
"""

from __future__ import annotations

import gc
import json
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

from autograder.sandbox import start_pool
from tree_guard import pytest_sessionfinish, pytest_sessionstart  # noqa: F401  the suite writes nothing in the checkout

#: The seed every grading test runs with: the kit's default seed (autograder.core.settings.DEFAULT_SEED),
#: written out so that a change of the default shows up as a deliberate change here.
SEED = 20240601

#: Where tests leave what a person may want to look at (screenshots, timings): outside the checkout,
#: which the suite must leave as it found it (tree_guard.py); $KIT_TEST_ARTIFACTS chooses the folder.
ARTIFACTS = Path(os.environ.get("KIT_TEST_ARTIFACTS") or Path(tempfile.gettempdir()) / "kit-test-artifacts")

# The kit's own tests are no learner: no self-study record (.kit-history.jsonl) in assignments/ or
# the checkout. The tests of the record itself (test_selfstudy.py, the browser test) clear this.
os.environ["KIT_HISTORY"] = "off"


@pytest.hookimpl(optionalhook=True)  # (pytest-xdist's hook: the suite also runs where it is not installed)
def pytest_xdist_auto_num_workers(config):
    """``-n auto``: one worker per core, at most four. Each test grades through processes of its own
    (a zygote, two children per level), so more workers than cores only make every test slower;
    files whose tests share an expensive module fixture (an nbgrader course, a Gradescope bundle,
    built pages, a venv) are marked ``xdist_group`` and run on one worker (``--dist loadgroup``)."""
    return max(1, min(os.cpu_count() or 1, 4))


@pytest.hookimpl(wrapper=True)
def pytest_collection(session):
    """Collect with the garbage collector paused, then freeze what exists (torch, the kit, every
    test module): each full collection of a worker then walks only what its tests made since. Ten
    full collections ran during each worker's collection before, each walking everything imported so
    far (1.0 s of each worker's 50 s in `make test-fast`). The kit's grader does the same
    (autograder/core/long_lived.py)."""
    gc.disable()
    try:
        return (yield)
    finally:
        gc.freeze()
        gc.enable()


# Where the suite's time goes (docs/speed.md, "The suite"): with $KIT_TEST_TIMELINE set to a folder,
# each pytest process (every xdist worker) appends when each test started and ended to a file of its
# own there; bench/suite_timeline.py reads them.
_TIMELINE: dict = {}


def _timeline(what: str, nodeid: str) -> None:
    folder = os.environ.get("KIT_TEST_TIMELINE")
    if not folder:
        return
    if "file" not in _TIMELINE:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        Path(folder).mkdir(parents=True, exist_ok=True)  # (else every test's start is an INTERNALERROR)
        _TIMELINE["file"] = open(Path(folder) / f"{worker}-{os.getpid()}.jsonl", "a", buffering=1)
    _TIMELINE["file"].write(json.dumps({"what": what, "test": nodeid, "at": time.time()}) + "\n")


def pytest_runtest_logstart(nodeid, location):
    _timeline("start", nodeid)


def pytest_runtest_logfinish(nodeid, location):
    _timeline("end", nodeid)


@pytest.fixture(scope="session")
def zygote():
    """The session's pool: a warm zygote, unless ``KIT_SANDBOX_START`` asks for another start
    method (bench/test_versions.py runs the smoke suite through each one)."""
    z = start_pool()
    yield z
    z.close()


@pytest.fixture(scope="session")
def warm_verdicts(tmp_path_factory):
    """Each case's verdicts through the warm pool at SEED, kept for the run: test_corpus_case grades
    every case so, and test_portable compares every case's portable grading with them. A folder
    that every xdist worker of the run shares; whichever test comes first grades, the other reads
    (the same code and seed give the same verdicts: test_portable's own comparison says so)."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "warm-verdicts"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture
def listener():
    """A loopback server that records every connection (there must be none): (port, received bytes)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.2)
    seen: list[bytes] = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            seen.append(conn.recv(100))
            conn.close()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield srv.getsockname()[1], seen
    stop.set()
    t.join()
    srv.close()
