"""KIT_HISTORY takes `off` or a path; anything else is refused with the reason (issue 29: `on` once
wrote 2.4 MB into a file called `on`, committed at the repository's root)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.learner import history

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("value", ["on", "1", "true", "yes", "ON"])
def test_a_word_that_is_not_off_nor_a_path_is_refused(monkeypatch, tmp_path, value):
    monkeypatch.setenv("KIT_HISTORY", value)
    with pytest.raises(history.SettingRefused, match="takes `off`"):
        history.history_path(tmp_path)
    env = {**os.environ, "KIT_HISTORY": value}
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "progress", "--dir", str(tmp_path)],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert f"KIT_HISTORY={value!r} is refused" in proc.stderr
    assert list(tmp_path.iterdir()) == []  # no file called `on`


def test_off_and_paths_are_taken(monkeypatch, tmp_path):
    monkeypatch.setenv("KIT_HISTORY", "off")
    assert history.history_path(tmp_path) is None
    assert history.append({"event": "check", "level": 1}, tmp_path) is False
    for value, expected in [
        (str(tmp_path / "rec.jsonl"), tmp_path / "rec.jsonl"),
        (str(tmp_path), tmp_path / history.FILE_NAME),  # a folder: the record inside it
        ("~/kit.jsonl", Path.home() / "kit.jsonl"),
    ]:
        monkeypatch.setenv("KIT_HISTORY", value)
        assert history.history_path(tmp_path / "elsewhere") == expected
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KIT_HISTORY", "mine.jsonl")  # a suffix makes a bare name a path
    assert history.append({"event": "check", "level": 1}) is True
    assert (tmp_path / "mine.jsonl").is_file()


def test_no_debris_at_the_repository_root():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    assert "on" not in tracked
    assert not (ROOT / "on").exists()
