"""Level 6's build_optimizer is judged on Adam's settings, against the running torch's defaults (issue 26).

``amsgrad=True`` and ``weight_decay=1e-4`` are mistakes of build_optimizer (they change the update);
settings that only choose an implementation (foreach, fused, capturable, differentiable), the
defaults written out in any spelling, and the keys a torch version adds or lacks are not.
The whole path (the child's description, the check, the message, the hint) is held to the corpus:
tests/corpus/broken/l6_build_amsgrad, l6_build_weight_decay, correct/l6_adam_defaults_spelled_out.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from autograder.checks.common import CheckFailed
from autograder.checks.nn_units import adam_setting_mistakes, expect_adam_defaults
from autograder.core.report import CheckResult
from autograder.learner import hints

ROOT = Path(__file__).resolve().parent.parent


def described(**settings) -> dict:
    """A param group as the child describes it (after the wire: JSON, so tuples are lists)."""
    group = torch.optim.Adam([torch.zeros(2, requires_grad=True)], lr=0.01, **settings).param_groups[0]
    plain = {k: v for k, v in group.items() if k != "params" and not isinstance(v, torch.Tensor)}
    return json.loads(json.dumps(plain))


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"betas": [0.9, 0.999], "eps": 1.0e-8, "weight_decay": 0.0, "amsgrad": False, "maximize": False},
        {"foreach": True},
        {"foreach": False, "differentiable": True},
        {"capturable": True},
    ],
)
def test_the_defaults_in_any_spelling_are_no_mistake(settings):
    assert adam_setting_mistakes(described(**settings)) == []


def test_another_torch_versions_keys_are_no_mistake():
    group = described()
    group.pop("decoupled_weight_decay", None)  # torch < 2.6 has no such key
    group.pop("foreach", None)
    group |= {"fused": True, "a_setting_of_a_later_torch": 3}
    assert adam_setting_mistakes(group) == []
    decoupled = described() | {"decoupled_weight_decay": True, "weight_decay": 0}
    assert adam_setting_mistakes(decoupled) == []  # no decay, decoupled or not: the same update


@pytest.mark.parametrize(
    "settings, key",
    [
        ({"amsgrad": True}, "amsgrad"),
        ({"weight_decay": 1e-4}, "weight_decay"),
        ({"betas": (0.8, 0.999)}, "betas"),
        ({"eps": 1e-6}, "eps"),
        ({"maximize": True}, "maximize"),
    ],
)
def test_a_changed_setting_is_named(settings, key):
    wrong = adam_setting_mistakes(described(**settings))
    assert [k for k, _, _ in wrong] == [key]


def test_the_message_names_the_setting_and_leads_to_its_hint_rung():
    with pytest.raises(CheckFailed) as failed:
        expect_adam_defaults(described(amsgrad=True, weight_decay=1e-4))
    message = failed.value.message
    assert "amsgrad=True (Adam's default is amsgrad=False)" in message
    assert "weight_decay=0.0001 (Adam's default is weight_decay=0)" in message
    check = CheckResult("6.step.build_optimizer", 6, "step", "build_optimizer", 0.0, 2.0, False, message)
    assert hints.mistakes_of(check) == ["optimizer_setting"]
    shipped = json.loads((ROOT / "assignments" / "hints.json").read_text())
    assert "optimizer_setting" in json.dumps(shipped["levels"]["6"]), "the rung ships with the assignments"
