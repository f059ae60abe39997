"""Checking what the student's process replies: each field of a reply, the observations of what the
code did, and an object's description, kept to the types and shapes the checks read. A reply that
breaks them is the student's process misbehaving: a ``TypeError`` here, which ``proxy.Submission``
turns into a ``StudentError``.
"""

from __future__ import annotations

from typing import Any


def _typed(v, kind):
    """A field of a reply from the student's process, of the type the protocol says (else TypeError)."""
    if kind is int and isinstance(v, bool) or not isinstance(v, kind):
        raise TypeError(f"expected {kind.__name__}")
    return v


def _shape(v) -> tuple:
    if (
        not isinstance(v, list)
        or len(v) > 32
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in v)
    ):
        raise TypeError("shape")
    return tuple(v)


def _clean_observations(obs) -> dict:
    """What the child says the code did (spies.Observations), kept to the shapes the checks read:
    a reply that breaks them is the student's process misbehaving (TypeError, then StudentError)."""
    if not isinstance(obs, dict):
        raise TypeError("observations")
    out: dict[str, Any] = {}
    for key in ("imports", "autograd_calls", "autograd_graphs"):
        if key in obs:
            if not isinstance(obs[key], list):
                raise TypeError(key)
            out[key] = [str(v)[:200] for v in obs[key][:100]]
    if "optimizers" in obs:
        opts = obs["optimizers"]
        if not isinstance(opts, list) or not all(
            isinstance(o, dict)
            and isinstance(o.get("type"), str)
            and isinstance(o.get("module"), str)
            and isinstance(o.get("defaults", {}), dict)
            for o in opts
        ):
            raise TypeError("optimizers")
        out["optimizers"] = [
            dict(
                o,
                defaults={
                    k: v
                    for k, v in o.get("defaults", {}).items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool)
                },
            )
            for o in opts[:50]
        ]
    for key in ("steps", "changed_outside_step"):
        if key in obs:
            if not isinstance(obs[key], int) or isinstance(obs[key], bool):
                raise TypeError(key)
            out[key] = obs[key]
    return out


def _checked_description(d) -> dict:
    """A description from the child (runtime.describe), with the keys and types the checks read."""
    if (
        not isinstance(d, dict)
        or not isinstance(d.get("type"), str)
        or not isinstance(d.get("module"), str)
        or not isinstance(d.get("mro"), list)
    ):
        raise TypeError("description")
    for key in ("children", "parameters", "linear_modules", "param_ids", "param_groups"):
        if key in d and not isinstance(d[key], list):
            raise TypeError(key)
    for c in d.get("children", []):
        if (
            not isinstance(c, dict)
            or not isinstance(c.get("name"), str)
            or not isinstance(c.get("type"), str)
            or not isinstance(c.get("module", ""), str)
        ):
            raise TypeError("child")
        linear_ok = (
            isinstance(c.get("in_features"), int)
            and isinstance(c.get("out_features"), int)
            and isinstance(c.get("bias"), bool)
        )
        if c["type"] == "Linear" and not linear_ok:
            raise TypeError("Linear")
    for g in d.get("param_groups", []):
        if not isinstance(g, dict) or not isinstance(g.get("param_ids"), list):
            raise TypeError("param_groups")
    for item in d.get("parameters", []):
        if not isinstance(item, list) or len(item) != 2 or not isinstance(item[0], str):
            raise TypeError("parameters")
    return d
