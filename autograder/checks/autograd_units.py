"""Checks of the units that work on autograd leaves: forward, loss, backward, step and zero_grad
of levels 3 and 4, where the weights are leaf tensors that require grad.
"""

from __future__ import annotations

import torch

from ..core import reference as ref
from ..sandbox.proxy import Leaf, StudentError, TensorValue
from .by_hand import RTOL32, RTOL64, unit
from .common import CheckFailed, data_of, expect_close, expect_sim_outputs, expect_tensor, expect_zero_grad

DTYPES = ((torch.float64, "float64"), (torch.float32, "float32"))


def _rtol(dt):
    return RTOL64 if dt == torch.float64 else RTOL32


def forward_values(sub, seed, level):
    s, x, w1, w2, _ = unit(seed, level)
    want, h = ref.forward_nobias(x, w1, w2)
    for dt, name in DTYPES:
        h1, h2 = sub.put(Leaf(w1.to(dt))), sub.put(Leaf(w2.to(dt)))
        r = sub.call("forward", x.to(dt), h1, h2)
        if isinstance(r.value, (tuple, list)):
            raise CheckFailed("forward should return y_pred alone at this level (autograd keeps what backward needs)")
        y = expect_tensor(r.value, f"y_pred ({name})", (s.N, s.D_out), name, sub.device)
        expect_close(
            y,
            want,
            "y_pred",
            _rtol(dt),
            f"x of shape ({s.N}, {s.D_in}) with negative entries ({name})",
            hints={"the ReLU is missing: y_pred = relu(x @ w1) @ w2": h @ w2},
        )
        if not y.requires_grad or y.grad_fn is None:
            raise CheckFailed(
                "y_pred is not part of the autograd graph (no grad_fn): compute it from w1 and w2 with "
                "torch operations, without .detach(), .data, .item() or .numpy()"
            )
        if level != 3:  # at level 4 the backward pass runs MyReLU.backward: that is the backward checks' job
            continue
        sub.backward(y, torch.ones(s.N, s.D_out, dtype=dt))
        for hnd, label in ((h1, "w1"), (h2, "w2")):
            if sub.get(hnd).grad is None:
                raise CheckFailed(
                    f"{label} is cut out of the graph: backpropagating from y_pred leaves {label}.grad "
                    f"empty. Use {label} itself, not {label}.data or {label}.detach()"
                )
    expect_sim_outputs(sub, "forward", [x, Leaf(w1), Leaf(w2)], [("y_pred", (s.N, s.D_out))])


def loss_value(sub, seed, level):
    s, x, w1, w2, y = unit(seed, level)
    y_pred = ref.forward_nobias(x, w1, w2)[0]
    want = ref.sse(y_pred, y)
    for dt, name in DTYPES:
        r = sub.call("loss_fn", Leaf(y_pred.to(dt)), y.to(dt))
        if isinstance(r.value, float):
            raise CheckFailed(
                "loss_fn returned a Python float: return the 0-dim tensor itself (no .item()), "
                "so that backward can start from it"
            )
        t = expect_tensor(r.value, f"the loss ({name})", (), name, sub.device)
        expect_close(
            t,
            want,
            "the loss",
            _rtol(dt),
            f"y_pred and y of shape ({s.N}, {s.D_out})",
            hints={"this is the mean of the squared errors: the tutorial's loss is their sum": want / y.numel()},
        )
        if t.grad_fn is None:
            raise CheckFailed(
                "the loss is not part of the autograd graph (no grad_fn): keep it a tensor computed from y_pred"
            )
    expect_sim_outputs(sub, "loss_fn", [Leaf(y_pred), y], [("the loss", ())])


def backward_grads(sub, seed, level):
    s, x, w1, w2, y = unit(seed, level)
    g1, g2 = ref.grads_nobias(x, w1, w2, y)
    for dt, name in DTYPES:
        h1, h2 = sub.put(Leaf(w1.to(dt))), sub.put(Leaf(w2.to(dt)))
        loss = sub.make("sse_nobias", x.to(dt), h1, h2, y.to(dt))
        sub.call("backward", loss)
        for handle, g, label in ((h1, g1, "w1"), (h2, g2, "w2")):
            after = sub.get(handle)
            if after.grad is None:
                raise CheckFailed(f"{label}.grad is None after backward(loss): call loss.backward() to fill it")
            expect_tensor(after.grad, f"{label}.grad", tuple(g.shape), name, sub.device)
            expect_close(
                after.grad,
                g,
                f"{label}.grad",
                _rtol(dt),
                f"{s} ({name})",
                hints={"the gradient is doubled: backward ran twice on the same loss": 2 * g},
            )


def _leaf_state(after: TensorValue, label: str) -> None:
    if after.grad_fn is not None or not after.is_leaf:
        raise CheckFailed(
            f"{label} is no longer a leaf (grad_fn {after.grad_fn}): the update was recorded in the "
            "graph; run it inside `with torch.no_grad():`"
        )
    if not after.requires_grad:
        raise CheckFailed(
            f"{label} no longer requires grad: update the tensor in place under torch.no_grad() "
            "instead of replacing or detaching it"
        )


LEAF_INPLACE = "a leaf Variable that requires grad is being used in an in-place operation"


def step(sub, seed, level, times):
    s, x, w1, w2, y = unit(seed, level)
    g1, g2 = ref.grads_nobias(x, w1, w2, y)
    lr = 1e-3
    for dt, name in DTYPES:
        handles = [sub.put(Leaf(w.to(dt), grad=g.to(dt))) for w, g in ((w1, g1), (w2, g2))]
        for i in range(times):
            if i:
                for hnd, g in zip(handles, (g1, g2)):
                    sub.set_grad(hnd, g.to(dt))
            try:
                sub.call("sgd_step", handles, lr)
            except StudentError as exc:
                if LEAF_INPLACE in exc.raw_message:
                    raise CheckFailed(
                        "sgd_step updates a leaf that requires grad while autograd records: wrap the "
                        "update in `with torch.no_grad():`"
                    ) from None
                raise
        for hnd, w, g, label in ((handles[0], w1, g1, "w1"), (handles[1], w2, g2, "w2")):
            after = sub.get(hnd)
            got = data_of(expect_tensor(after, f"{label} after sgd_step", tuple(w.shape), name, sub.device))
            if torch.equal(got, w.to(dt).to(torch.float64)):
                raise CheckFailed(
                    f"{label} is unchanged after sgd_step: update the tensor in place (p -= lr * p.grad), "
                    "rebinding a name does not change the caller's tensor"
                )
            expect_close(
                got,
                w - times * lr * g,
                f"{label} after {times} sgd_step(s), lr={lr}",
                _rtol(dt),
                f"{name} parameters with .grad set",
                hints={
                    "the step adds the gradient: p -= lr * p.grad": w + times * lr * g,
                    "only the first step took effect: sgd_step should only update (zeroing is zero_grad's job)": w
                    - lr * g,
                },
            )
            _leaf_state(after, label)


def zero_grad(sub, seed, level, with_none: bool):
    s, x, w1, w2, y = unit(seed, level)
    g1, g2 = ref.grads_nobias(x, w1, w2, y)
    handles = [sub.put(Leaf(w1, grad=None if with_none else g1)), sub.put(Leaf(w2, grad=g2))]
    sub.call("zero_grad", handles)
    for hnd, label in zip(handles, ("w1", "w2")):
        after = sub.get(hnd)
        expect_zero_grad(after.grad, f"{label}.grad")
        if not torch.equal(data_of(after, label), (w1 if label == "w1" else w2)):
            raise CheckFailed(f"zero_grad changed {label} itself: reset only the gradients")


def autograd_used(sub, seed, level):
    """train gets its gradients from autograd: a backward call is seen while it runs."""
    from .by_hand import observe

    s, x, w1, w2, y = unit(seed, level)
    r = observe(sub, "train", x, y, Leaf(w1), Leaf(w2), 1e-4, 2)
    if r is None:
        raise CheckFailed("train failed, so there was nothing to observe (see the train checks)")
    calls = r.observations.get("autograd_calls", [])
    if not any(
        c in ("Tensor.backward", "torch.autograd.backward", "torch.autograd.grad", "the autograd engine") for c in calls
    ):
        raise CheckFailed(
            "train never called loss.backward() (or torch.autograd): at this level autograd computes "
            "the gradients, through backward(loss)"
        )
