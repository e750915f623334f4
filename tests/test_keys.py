"""Every random key is used once: split for every separate use (the course's determinism rule).

A key passed to two consumers gives them correlated random numbers: chapter 04 once
flipped its labels and trained seed 0 from the same key.  This test reads every module of
``course`` and fails when, inside one function, one key variable is handed to more than
one call.  ``jax.random.fold_in(key, i)`` derives a new key from distinct data and does
not count as a use; ``split`` does.  A reuse on purpose (drawing the same weights twice to
compare them) says so on its line with ``# same key: why``.

What it cannot see: a key reused across the iterations of a loop (common random numbers
across the settings of one experiment are often what we want), a key shared between a
closure and the function around it, and keys held under names other than ``key``,
``keys``, ``k_*`` or ``key_*``.  Those are left to review.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "course"  # every subpackage, recursively
DERIVE = {"fold_in"}  # derives a new key from distinct data
INSPECT = {"check_key", "isinstance", "type", "_describe"}  # look at a key, draw nothing


def _is_key_name(name: str) -> bool:
    return name == "key" or name.startswith(("k_", "key_")) or name in {"keys", "kx", "ky"}


def _calls(fn: ast.AST):
    """(call, branches) for the calls in ``fn``'s own body (not in nested functions).

    ``branches`` records, for every ``if`` above the call, which branch it is in, so
    uses in the two branches of one ``if`` (only one of which runs) are not a reuse.
    """
    stack = [(child, ()) for child in ast.iter_child_nodes(fn)]
    while stack:
        node, branches = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(node, ast.Call):
            yield node, branches
        if isinstance(node, ast.If | ast.IfExp):
            body = node.body if isinstance(node.body, list) else [node.body]
            orelse = node.orelse if isinstance(node.orelse, list) else [node.orelse]
            stack.append((node.test, branches))
            stack += [(c, (*branches, (id(node), 0))) for c in body]
            stack += [(c, (*branches, (id(node), 1))) for c in orelse]
            continue
        stack.extend((child, branches) for child in ast.iter_child_nodes(node))


def _exclusive(a: tuple, b: tuple) -> bool:
    """Whether two branch paths part at some ``if`` (so at most one of them runs)."""
    where_a = dict(a)
    return any(node in where_a and where_a[node] != side for node, side in b)


def _callee(call: ast.Call) -> str:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")


def key_reuses(source: str) -> list[str]:
    """``function: key -> [callees]`` for every key passed to more than one call."""
    found = []
    marked = {i + 1 for i, line in enumerate(source.splitlines()) if "# same key:" in line}
    for fn in ast.walk(ast.parse(source)):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        uses: dict[str, list[tuple[str, tuple]]] = {}
        for call, branches in _calls(fn):
            if _callee(call) in DERIVE | INSPECT or call.lineno in marked:
                continue  # a derivation, a look, or a reuse the code says is on purpose
            args = list(call.args) + [k.value for k in call.keywords]
            for arg in args:
                if isinstance(arg, ast.Name) and _is_key_name(arg.id):
                    uses.setdefault(arg.id, []).append((f"{_callee(call)}@{call.lineno}", branches))
        name = getattr(fn, "name", "<lambda>")
        for key, calls in uses.items():
            clashes = [
                (a[0], b[0])
                for i, a in enumerate(calls)
                for b in calls[i + 1 :]
                if not _exclusive(a[1], b[1])
            ]
            if clashes:
                found.append(f"{name}: {key} -> {clashes}")
    return found


def test_the_checker_catches_a_reused_key():
    bad = "def f(key):\n    d = make(key=key)\n    return train(d, key=key)\n"
    good = "def f(key):\n    a, b = split(key)\n    return train(make(key=a), key=b)\n"
    branches = (
        "def f(key, c):\n    if c:\n        return g(key)\n    else:\n        return h(key)\n"
    )
    assert key_reuses(branches) == []
    assert len(key_reuses(bad)) == 1 and key_reuses(bad)[0].startswith("f: key -> ")
    assert key_reuses(good) == []


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_no_function_hands_one_key_to_two_consumers(path):
    assert key_reuses(path.read_text()) == []
