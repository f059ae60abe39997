"""Turning one level's source into the token stream that copy detection fingerprints.

What a copier changes without changing the program must not change the stream, and what every
student was given must not be in it:

- comments, docstrings, blank lines, formatting and ``print`` calls vanish (the AST has none of the
  first four; prints are dropped because they decide nothing at this kit's levels);
- every name the student binds (locals, parameters, helper functions, ``self.<attribute>``) becomes
  ``V``; names the student did not choose stay (``numpy.maximum``, ``.grad``, ``range``, the
  contract's own function names), and import aliases become the module's real name
  (``import numpy as NP`` reads as ``numpy``); numbers become ``0`` and strings ``'S'``;
- statements that do not depend on each other are put in one canonical order (a topological sort
  of the block's read/write dependencies that always picks the smallest ready statement), so
  swapping independent lines, or whole functions, gives the same stream;
- statements identical to the stub's (signatures, provided lines, the ``__main__`` demo) are the
  boilerplate every student received, and are removed.

Source that does not parse falls back to a token stream (pygments), with the same renaming of
names and dropping of comments but no reordering.

Each token remembers the source lines it came from, so a match can be shown in the original file.
"""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Set
from dataclasses import dataclass, field

#: Tokens of a normalised statement: words and single punctuation characters.
_TOKEN = re.compile(r"\w+|[^\w\s]")

#: A block longer than this keeps its order (the ordering is quadratic; no level needs so many).
MAX_REORDERED = 200

#: Statements after which nothing may move (control leaves the block or a scope is declared).
_BARRIERS = (ast.Return, ast.Raise, ast.Break, ast.Continue, ast.Global, ast.Nonlocal, ast.Assert, ast.Delete)


@dataclass
class Unit:
    """One normalised statement (or a compound statement's header line)."""

    text: str
    first_line: int  # 1-based, in the source as shown
    last_line: int


@dataclass
class Normalised:
    units: list[Unit] = field(default_factory=list)
    method: str = "ast"  # "ast", or "tokens" when the source did not parse

    def tokens(self) -> list[tuple[str, int]]:
        """``(token, unit index)`` for the whole stream."""
        return [(tok, i) for i, u in enumerate(self.units) for tok in _TOKEN.findall(u.text)]


# ----------------------------------------------------------------------------- names
@dataclass
class _Names:
    """What the module binds (renamed), its import aliases, and the student's self-attributes."""

    bound: set[str] = field(default_factory=set)
    aliases: dict[str, str] = field(default_factory=dict)
    self_attributes: set[str] = field(default_factory=set)


def _collect_names(tree: ast.AST) -> _Names:
    names = _Names()
    for node in ast.walk(tree):  # one flat pass: much cheaper than a NodeVisitor's dispatch
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, (ast.Store, ast.Del)):
                names.bound.add(node.id)
        elif isinstance(node, ast.Attribute):
            if isinstance(node.ctx, ast.Store) and isinstance(node.value, ast.Name) and node.value.id == "self":
                names.self_attributes.add(node.attr)
        elif isinstance(node, ast.arg):
            names.bound.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.bound.add(node.name)
        elif isinstance(node, ast.ExceptHandler):
            if node.name:
                names.bound.add(node.name)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:  # `import torch.nn` binds `torch`, which already reads as itself
                    names.aliases[a.asname] = a.name
        elif isinstance(node, ast.ImportFrom):
            for a in node.names:
                names.aliases[a.asname or a.name] = f"{node.module or ''}.{a.name}".lstrip(".")
    return names


def _rename_in_place(tree: ast.AST, names: _Names, keep: Set[str]) -> None:
    """Names the student chose -> ``V`` (aliases -> the module's name), strings -> ``'S'``, numbers
    -> ``0``, annotations dropped. Only attributes change, so the statements keep their shape."""

    def new(name: str) -> str:
        if name in keep:
            return name
        if name in names.aliases:
            return names.aliases[name]
        return "V" if name in names.bound else name

    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            node.id = new(node.id)
        elif isinstance(node, ast.Attribute):
            if node.attr in names.self_attributes:
                node.attr = "V"
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, (str, bytes)):
                node.value = "S"
            elif isinstance(node.value, (int, float, complex)) and not isinstance(node.value, bool):
                node.value = 0
        elif isinstance(node, ast.JoinedStr):
            node.values = [ast.Constant("S")]
        elif isinstance(node, ast.arg):
            node.arg, node.annotation = "V", None
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.name, node.returns = new(node.name), None
        elif isinstance(node, ast.ClassDef):
            node.name = new(node.name)
        elif isinstance(node, ast.ExceptHandler):
            if node.name:
                node.name = "V"
        elif isinstance(node, ast.AnnAssign):
            node.annotation = ast.Name("V", ast.Load())


# ----------------------------------------------------------------------------- dependencies
def reads_writes(tree: ast.AST) -> dict[int, tuple[frozenset[str], frozenset[str]]]:
    """For every statement of ``tree`` (by id): the names it reads and those it may change:
    assignment targets, the base of an assigned attribute or item, the receiver of a method call
    and every name passed to a call (it may be mutated). One pass over the tree, bottom up."""
    table: dict[int, tuple[frozenset[str], frozenset[str]]] = {}

    def visit(node: ast.AST) -> tuple[set[str], set[str]]:
        reads: set[str] = set()
        writes: set[str] = set()
        if isinstance(node, ast.Name):
            (writes if isinstance(node.ctx, (ast.Store, ast.Del)) else reads).add(node.id)
        elif isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(node.ctx, (ast.Store, ast.Del)):
            writes.update(_base_names(node))
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute):
                writes.update(_base_names(node.func.value))
            for a in [*node.args, *(k.value for k in node.keywords)]:
                writes.update(_base_names(a))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            writes.add(node.name)
        for child in ast.iter_child_nodes(node):
            r, w = visit(child)
            reads |= r
            writes |= w
        if isinstance(node, ast.stmt):
            table[id(node)] = (frozenset(reads), frozenset(writes))
        return reads, writes

    visit(tree)
    return table


def _base_names(node: ast.AST) -> set[str]:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return {node.id} if isinstance(node, ast.Name) else set()


def _is_definition(stmt: ast.stmt) -> bool:
    return isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom))


def _depends(a: ast.stmt, b: ast.stmt, rw: dict) -> bool:
    """Must ``a`` (earlier) stay before ``b``?"""
    if isinstance(a, _BARRIERS) or isinstance(b, _BARRIERS):
        return True
    if _is_definition(a) and _is_definition(b):
        return False  # definitions only bind their names: functions may come in any order
    (ra, wa), (rb, wb) = rw[id(a)], rw[id(b)]
    return bool(wa & (rb | wb) or wb & ra)


# ----------------------------------------------------------------------------- rendering
def _is_dropped(stmt: ast.stmt) -> bool:
    """Docstrings and other bare constants, ``pass``, ``...`` and ``print(...)`` calls."""
    if isinstance(stmt, ast.Pass):
        return True
    if isinstance(stmt, ast.Expr):
        v = stmt.value
        if isinstance(v, (ast.Constant, ast.JoinedStr)):
            return True
        if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "print":
            return True
    return False


_BODIES = ("body", "orelse", "handlers", "finalbody")


def _one_line(node: ast.AST) -> str:
    return " ".join(line.strip() for line in ast.unparse(node).splitlines())


def _header(node: ast.AST) -> str:
    """A compound statement's first line, normalised (``for V in range(V):``)."""
    shell = copy.copy(node)  # shallow: only the bodies are replaced, nothing is changed in place
    for name in _BODIES:
        if hasattr(shell, name):
            setattr(shell, name, [ast.Pass()] if name == "body" else [])
    return " ".join(line.strip() for line in ast.unparse(shell).splitlines()[:-1])  # drop the `pass`


class _Flattener:
    """Walks the original tree (for dependencies and line numbers) and the renamed tree (for the
    text) side by side: the renamer changes expressions, never the statements' structure."""

    def __init__(self, boilerplate: Set[str], rw: dict[int, tuple[frozenset[str], frozenset[str]]]) -> None:
        self.boilerplate, self.rw = boilerplate, rw
        self._cache: dict[int, list[Unit]] = {}

    def expand(self, stmt: ast.stmt, norm: ast.stmt) -> list[Unit]:
        """The units of one statement, its bodies included (cached: the sort key needs them too)."""
        key = id(stmt)
        if key in self._cache:
            return self._cache[key]
        bodies = [name for name in _BODIES if getattr(stmt, name, None)]
        if not bodies or isinstance(stmt, ast.Match):
            out = [Unit(_one_line(norm), stmt.lineno, stmt.end_lineno or stmt.lineno)]
        else:
            body: list[ast.stmt] = getattr(stmt, "body", [])
            first_body = body[0].lineno if body else stmt.lineno
            out = [Unit(_header(norm), stmt.lineno, max(stmt.lineno, first_body - 1))]
            out += self.block(body, getattr(norm, "body", []))
            for h, hn in zip(getattr(stmt, "handlers", []), getattr(norm, "handlers", [])):
                out.append(Unit(_header(hn), h.lineno, h.lineno))
                out += self.block(h.body, hn.body)
            for name in ("orelse", "finalbody"):
                part = getattr(stmt, name, None)
                if part:
                    out.append(Unit("else:" if name == "orelse" else "finally:", part[0].lineno, part[0].lineno))
                    out += self.block(part, getattr(norm, name))
        self._cache[key] = out
        return out

    def text(self, stmt: ast.stmt, norm: ast.stmt) -> str:
        return "\n".join(u.text for u in self.expand(stmt, norm))

    def block(self, block: list[ast.stmt], norm: list[ast.stmt]) -> list[Unit]:
        """The block's statements in canonical order: Kahn's algorithm over their dependencies,
        always taking the ready statement whose normalised text is smallest."""
        pairs = [(s, n) for s, n in zip(block, norm) if not _is_dropped(s)]
        if 1 < len(pairs) <= MAX_REORDERED:
            stmts = [s for s, _ in pairs]
            preds = {i: {j for j in range(i) if _depends(stmts[j], stmts[i], self.rw)} for i in range(len(stmts))}
            remaining, ordered = set(range(len(pairs))), []
            while remaining:
                ready = [i for i in remaining if not (preds[i] & remaining)]
                pick = min(ready, key=lambda i: (self.text(*pairs[i]), i))
                ordered.append(pairs[pick])
                remaining.discard(pick)
            pairs = ordered
        return [u for s, n in pairs for u in self.expand(s, n)]


def normalise(source: str, boilerplate: Set[str] = frozenset(), keep: Set[str] = frozenset()) -> Normalised:
    """The normalised statements of ``source``, less those in ``boilerplate`` (texts from
    :func:`boilerplate_texts`). ``keep``: names that stay as written (the contract's names)."""
    try:
        tree, renamed = ast.parse(source), ast.parse(source)
        _rename_in_place(renamed, _collect_names(tree), keep)
        units = _Flattener(boilerplate, reads_writes(tree)).block(tree.body, renamed.body)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return _token_fallback(source, boilerplate)
    return Normalised([u for u in units if u.text not in boilerplate], "ast")


def boilerplate_texts(*stub_sources: str, keep: Set[str] = frozenset()) -> set[str]:
    """Every normalised statement of the stubs (and the token-fallback lines), to remove."""
    texts: set[str] = set()
    for src in stub_sources:
        texts.update(u.text for u in normalise(src, keep=keep).units)
        texts.update(u.text for u in _token_fallback(src, set()).units)
    return texts


def _token_fallback(source: str, boilerplate: Set[str]) -> Normalised:
    """Source that does not parse: pygments tokens, line by line, names as V, comments dropped."""
    from pygments import token
    from pygments.lexers import PythonLexer

    lines: dict[int, list[str]] = {}
    line = 1
    for kind, value in PythonLexer().get_tokens(source):
        if kind in token.Comment or kind in token.Literal.String.Doc:
            pass
        elif kind in token.Name and kind not in token.Name.Builtin and kind not in token.Name.Namespace:
            lines.setdefault(line, []).append("V")
        elif kind in token.Literal.String:
            lines.setdefault(line, []).append("S")
        elif kind in token.Literal.Number:
            lines.setdefault(line, []).append("N")
        elif value.strip():
            lines.setdefault(line, []).append(value.strip())
        line += value.count("\n")
    units = [Unit(" ".join(toks), n, n) for n, toks in sorted(lines.items())]
    units = [u for u in units if u.text not in boilerplate and not u.text.startswith("S")]
    return Normalised(units, "tokens")
