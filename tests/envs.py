"""Virtual environments for the tests, built from what the running suite has.

``python -m venv --system-site-packages`` from ``sys.executable`` is not that: when the suite
itself runs in a venv, the new venv's base is the base interpreter, which has none of the kit's
packages (``No module named 'nbformat'``). Here the new venv gets, in its own site-packages, every
entry of every site-packages directory the running interpreter imports from (first one wins, as
on ``sys.path``): linked, or, for ``own``, hard-linked file by file (a copy where the file
system refuses), so that the distributions named there live inside the venv itself (a venv under
/tmp then really holds torch under /tmp, as a student's would).
"""

from __future__ import annotations

import importlib.metadata as md
import os
import re
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path


def running_site_dirs() -> list[Path]:
    """The site-packages directories of the running interpreter, in ``sys.path`` order."""
    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE and os.path.isdir(site.getusersitepackages()):
        dirs.append(site.getusersitepackages())
    order = {os.path.realpath(p): i for i, p in enumerate(sys.path)}
    dirs = [d for d in dict.fromkeys(dirs) if os.path.isdir(d)]
    return [Path(d) for d in sorted(dirs, key=lambda d: order.get(os.path.realpath(d), len(order)))]


def requirement_closure(*names: str) -> set[str]:
    """The distributions ``names`` need, transitively (extras left out), as normalised names."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = md.distribution(name).requires or []
        except md.PackageNotFoundError:
            continue
        todo.extend(re.split(r"[\s;<>=!~\[(]", r, maxsplit=1)[0] for r in requires if "extra ==" not in r)
    return seen


def _top_entries(dist: md.Distribution) -> set[str]:
    """The names directly in site-packages that a distribution's files are under."""
    return {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}


def _hardlink_tree(src: Path, dst: Path) -> None:
    def link(s, d):
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)

    if src.is_dir():
        shutil.copytree(src, dst, symlinks=True, copy_function=link)
    else:
        link(src, dst)


def make_venv(where: Path, own: tuple[str, ...] = (), base: str = sys.executable) -> Path:
    """A venv at ``where`` with the running suite's packages as its own; the distributions ``own``
    needs (``("torch", "numpy")``: and their requirements) hard-linked into it, the rest linked.
    ``base``: the interpreter it is made from (of this Python's version: the packages are its)."""
    subprocess.run([base, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    mine = Path(
        subprocess.run(
            [str(python), "-I", "-c", "import site; print(site.getsitepackages()[0])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    copied: set[str] = set()
    for name in requirement_closure(*own) if own else ():
        try:
            copied |= _top_entries(md.distribution(name))
        except md.PackageNotFoundError:
            continue
    for directory in running_site_dirs():
        for entry in sorted(directory.iterdir()):
            target = mine / entry.name
            if target.exists() or target.is_symlink() or entry.name == "__pycache__":
                continue
            if entry.name in copied:
                _hardlink_tree(entry, target)
            else:
                target.symlink_to(entry)
    # and their commands (alembic, jupyter...), as an install into the venv puts them beside its python
    for directory in running_script_dirs():
        for entry in sorted(directory.iterdir()):
            target = python.parent / entry.name
            if entry.name.startswith(("python", "activate", "pip")) or target.exists() or target.is_symlink():
                continue
            if entry.is_file():
                target.symlink_to(entry)
    return python


def running_script_dirs() -> list[Path]:
    """Where the running interpreter's installed commands are (its own, then its base's)."""
    dirs = [sysconfig.get_path("scripts"), sysconfig.get_path("scripts", vars={"base": sys.base_prefix})]
    if site.ENABLE_USER_SITE:
        dirs.append(sysconfig.get_path("scripts", f"{os.name}_user"))
    return [Path(d) for d in dict.fromkeys(dirs) if d and os.path.isdir(d)]
