"""Checks of the torch.nn levels (5-8): the models students build, their losses, the hand-written
zero_grad and step of level 5, and what the training loops do with torch.optim.
"""

from __future__ import annotations

import ast
import functools
import inspect
import random

import torch

from ..core import reference as ref
from ..core.curriculum import LEVELS
from ..core.problems import generator, randn, unit_sizes, with_negatives
from ..sandbox.proxy import ObjectValue, StudentError
from .by_hand import RTOL32, RTOL64
from .common import (
    CheckFailed,
    data_of,
    describe_value,
    expect_close,
    expect_sim_outputs,
    expect_tensor,
    expect_zero_grad,
)
from .loops import lockstep


def sizes_and_data(seed, level, purpose="unit"):
    s = unit_sizes(seed, level, purpose)
    gen = generator(seed, level, purpose)
    x, y = with_negatives(gen, s.N, s.D_in), randn(gen, s.N, s.D_out)
    return s, x, y, ref.init_params(level, s, gen)


def expect_object(v, what) -> ObjectValue:
    if not isinstance(v, ObjectValue):
        raise CheckFailed(f"{what} should be an object (a module or optimizer), got {describe_value(v)}")
    return v


def expect_linears(desc: dict, level: int, s, what: str) -> None:
    """The module ``desc`` holds the level's layers (its record's Model): nn.Linear, sized, with bias."""
    children = {c["name"]: c for c in desc.get("children", [])}
    model = LEVELS[level].model
    for layer in model.layers:
        name, fan_in, fan_out = layer.name, layer.fan_in, layer.fan_out
        want_in, want_out = getattr(s, fan_in), getattr(s, fan_out)
        c = children.get(name)
        label = f"{what}[{name}]" if model.kind == "sequential" else f"{what}.{name}"
        if c is None:
            raise CheckFailed(
                f"{label} is missing: expected nn.Linear({fan_in}, {fan_out}) there"
                + (f"; found children {', '.join(children) or 'none'}" if children else "")
            )
        if c["type"] != "Linear" or not c["module"].startswith("torch.nn"):
            raise CheckFailed(f"{label} is a {c['type']}, expected torch.nn.Linear")
        if (c["in_features"], c["out_features"]) != (want_in, want_out):
            raise CheckFailed(
                f"{label} is Linear({c['in_features']}, {c['out_features']}), expected "
                f"Linear({fan_in}={want_in}, {fan_out}={want_out})"
            )
        if not c["bias"]:
            raise CheckFailed(f"{label} has no bias: levels 5-8 use nn.Linear with its bias")


def to_check_device(sub, model) -> None:
    """Move the student's model to the device the check runs on, where its inputs will be (nothing to
    do on the CPU): as a student would, with ``model.to(device)``. Its parameters and buffers go there;
    a tensor kept as a plain attribute stays behind, as on a real GPU."""
    if sub.device != "cpu":
        sub.call((model, "to"), sub.device)


def build_model(sub, seed):
    s, x, _, params = sizes_and_data(seed, 5)
    model = expect_object(sub.call("build_model", s.D_in, s.H, s.D_out).value, "build_model's result")
    to_check_device(sub, model)
    desc = sub.describe(model)
    if desc["type"] != "Sequential" or not desc["module"].startswith("torch.nn"):
        raise CheckFailed(f"build_model returned a {desc['type']}, expected torch.nn.Sequential")
    kinds = [c["type"] for c in desc["children"]]
    if kinds != ["Linear", "ReLU", "Linear"]:
        raise CheckFailed(f"build_model's layers are {kinds}, expected ['Linear', 'ReLU', 'Linear'] (indices 0, 1, 2)")
    expect_linears(desc, 5, s, "model")
    sub.set_params(model, {k: v.to(torch.float32) for k, v in params.items()})
    y = expect_tensor(sub.call((model, None), x.to(torch.float32)).value, "model(x)", (s.N, s.D_out), "float32")
    expect_close(y, ref.model_forward(5, params, x), "model(x) with the grader's weights", RTOL32, f"x of {s}")


def build_loss(sub, seed):
    s, x, y, params = sizes_and_data(seed, 5, "loss")
    y_pred = ref.model_forward(5, params, x)
    want = ref.sse(y_pred, y)
    loss = expect_object(sub.call("build_loss").value, "build_loss's result")
    for dt, name, rtol in ((torch.float64, "float64", RTOL64), (torch.float32, "float32", RTOL32)):
        r = sub.call((loss, None), y_pred.to(dt), y.to(dt))
        t = expect_tensor(r.value, f"loss_fn(y_pred, y) ({name})", (), name, sub.device)
        expect_close(
            t,
            want,
            "the loss",
            rtol,
            f"y_pred and y of shape ({s.N}, {s.D_out})",
            hints={
                "this is the mean of the squared errors (MSELoss's default reduction): use "
                "MSELoss(reduction='sum')": want / y.numel()
            },
        )


def grader_model(sub, level, s, **kwargs) -> ObjectValue:
    """The level's network, built by the grader (from its record's spec) in the student's process."""
    return sub.make("model", *LEVELS[level].model.spec(s), **kwargs)


def _model_with_grads(sub, seed, level=5):
    s, x, y, params = sizes_and_data(seed, level, "step")
    gen = generator(seed, level, "grads")
    grads = {k: randn(gen, *v.shape) for k, v in params.items()}
    model = grader_model(sub, level, s, dtype="float64", device=sub.device)
    sub.set_params(model, params, grads)
    return model, params, grads


def zero_grad(sub, seed):
    model, params, grads = _model_with_grads(sub, seed)
    sub.call("zero_grad", model)
    after = sub.params(model)
    for name, p in after.items():
        expect_zero_grad(p.grad, f"the gradient of {name}")
        if not torch.equal(data_of(p, name), params[name]):
            raise CheckFailed(f"zero_grad changed the parameter {name} itself: reset only the gradients")


def sgd_step(sub, seed, times):
    model, params, grads = _model_with_grads(sub, seed)
    handles = sub.params(model)
    lr = 1e-3
    for i in range(times):
        if i:
            sub.set_params(model, grads=grads)
        try:
            sub.call("sgd_step", model, lr)
        except StudentError as exc:
            if "leaf Variable that requires grad" in exc.raw_message:
                raise CheckFailed(
                    "sgd_step updates parameters while autograd records: wrap the update in `with torch.no_grad():`"
                ) from None
            raise
    for name, before in handles.items():
        after = sub.get(before)  # the same tensor object the model held before the step
        got = data_of(expect_tensor(after, f"parameter {name} after sgd_step", tuple(params[name].shape)))
        if torch.equal(got, params[name]):
            raise CheckFailed(
                f"parameter {name} is unchanged after sgd_step(model, lr): update each parameter in "
                "place (param -= lr * param.grad), do not replace it"
            )
        expect_close(
            got,
            params[name] - times * lr * grads[name],
            f"{name} after {times} sgd_step(s), lr={lr}",
            RTOL64,
            "float64 parameters with known gradients",
            hints={"the step adds the gradient: param -= lr * param.grad": params[name] + times * lr * grads[name]},
        )
        if after.grad_fn is not None or not after.is_leaf or not after.requires_grad:
            raise CheckFailed(
                f"parameter {name} is no longer a leaf that requires grad: run the update under torch.no_grad()"
            )


def uses_optim_source(source: str) -> bool:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "optim":
            return True
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("torch.optim"):
            return True
        if isinstance(node, ast.Import) and any(a.name.startswith("torch.optim") for a in node.names):
            return True
    return False


def no_optim(sub, shared, seed):
    try:
        r = lockstep(sub, shared, 5, seed)
        built = r["observations"].get("optimizers", [])
    except StudentError as exc:
        if exc.not_implemented or exc.missing:
            raise
        built = []
    except CheckFailed:
        built = []
    if built or uses_optim_source(sub.source or ""):
        kinds = ", ".join(sorted({b["type"] for b in built})) or "torch.optim"
        raise CheckFailed(
            f"level 5 uses {kinds}: write the update by hand (param -= lr * param.grad under "
            "torch.no_grad()); torch.optim comes at level 6"
        )


def build_optimizer(sub, seed):
    s, x, y, params = sizes_and_data(seed, 6)
    model = grader_model(sub, 6, s)
    lr = 0.0123
    opt = expect_object(sub.call("build_optimizer", model, lr).value, "build_optimizer's result")
    d = sub.describe(opt)
    if d["type"] != "Adam" or not d["module"].startswith("torch.optim"):
        raise CheckFailed(f"build_optimizer returned a {d['type']}, expected torch.optim.Adam")
    ids = [i for g in d["param_groups"] for i in g["param_ids"]]
    model_ids = sub.describe(model)["param_ids"]
    if sorted(ids) != sorted(model_ids):
        raise CheckFailed(
            f"the optimizer holds {len(ids)} parameter(s), the model has {len(model_ids)}: pass model.parameters()"
            if len(ids) != len(model_ids)
            else "the optimizer does not hold the model's own parameters: pass model.parameters()"
        )
    lrs = {g.get("lr") for g in d["param_groups"]}
    if lrs != {lr}:
        raise CheckFailed(f"the optimizer's learning rate is {', '.join(map(str, lrs))}, expected the lr given ({lr})")
    for group in d["param_groups"]:
        expect_adam_defaults(group)


def expect_adam_defaults(group: dict) -> None:
    """Fail, naming each setting, where one described param group changes Adam's update."""
    wrong = adam_setting_mistakes(group)
    if wrong:
        raise CheckFailed(
            "build_optimizer sets "
            + "; ".join(f"{k}={v!r} (Adam's default is {k}={default!r})" for k, v, default in wrong)
            + ": the contract asks for Adam with lr and every other setting at Adam's default"
        )


#: Adam's settings that choose an implementation, not the update (the same numbers within rounding):
#: never judged. Which of them exist, and their defaults, differ between torch versions.
ADAM_IMPLEMENTATION_KEYS = frozenset({"foreach", "fused", "capturable", "differentiable"})


@functools.cache
def adam_defaults() -> dict:
    """Adam's keyword defaults in the running torch (the keys of its param groups)."""
    params = inspect.signature(torch.optim.Adam.__init__).parameters
    return {k: p.default for k, p in params.items() if p.default is not inspect.Parameter.empty}


def adam_setting_mistakes(group: dict) -> list[tuple[str, object, object]]:
    """``(setting, student's value, default)`` for each setting of one described param group that
    changes Adam's update from the default's (``amsgrad=True``, ``weight_decay=1e-4``, other betas...).

    The defaults are those of the torch that is running (the child's installation is this one), read
    from Adam's own signature, so a setting that a torch version adds or renames never counts as a
    mistake (never from an Adam built here: the first optimizer imports torch._dynamo, a second the
    grader does without). A setting the description could not carry (a tensor) is not judged:
    undecided passes."""
    default = adam_defaults()
    wrong = []
    for key, want in default.items():
        if key in ("params", "lr") or key in ADAM_IMPLEMENTATION_KEYS or key not in group:
            continue
        got = group[key]
        if key == "decoupled_weight_decay" and not group.get("weight_decay"):
            continue  # decoupled or not, a weight decay of 0 is no decay: the same update
        if not _same_setting(got, want):
            wrong.append((key, tuple(got) if isinstance(got, list) else got, want))
    return wrong


def _same_setting(got, want) -> bool:
    if isinstance(want, (tuple, list)):
        return isinstance(got, (tuple, list)) and len(got) == len(want) and all(map(_same_setting, got, want))
    if isinstance(want, bool) or want is None:
        return got == want
    if isinstance(want, (int, float)) and isinstance(got, (int, float)) and not isinstance(got, bool):
        return got == want or abs(got - want) <= 1e-12 * abs(want)  # 1e-08 and 1.0e-8 alike
    return got == want


def optimizer_only(sub, shared, seed):
    r = lockstep(sub, shared, 6, seed)
    obs = r["observations"]
    if obs.get("changed_outside_step", 0):
        raise CheckFailed(
            "the parameters changed outside optimizer.step(): at this level the optimizer does the "
            "update; remove the update by hand"
        )
    if not obs.get("steps"):
        raise CheckFailed("optimizer.step() was never called: the optimizer must do the update")


def module_init(sub, seed, level, cls):
    s, *_ = sizes_and_data(seed, level)
    model = expect_object(sub.call(cls, s.D_in, s.H, s.D_out).value, f"{cls}(D_in, H, D_out)")
    d = sub.describe(model)
    if "Module" not in d["mro"]:
        raise CheckFailed(f"{cls} is not a torch.nn.Module subclass")
    expect_linears(d, level, s, "self")
    want = len(LEVELS[level].param_names)
    if len(d["parameters"]) != want:
        names = ", ".join(n for n, _ in d["parameters"])
        raise CheckFailed(
            f"{cls} has {len(d['parameters'])} parameter tensors ({names}), expected {want}: create "
            "exactly the layers the contract names"
        )
    return model


def _student_model(sub, seed, level, cls, dtype="float64"):
    s, x, y, params = sizes_and_data(seed, level)
    model = expect_object(sub.call(cls, s.D_in, s.H, s.D_out).value, f"{cls}(D_in, H, D_out)")
    if dtype == "float64":
        sub.call((model, "double"))
    to_check_device(sub, model)
    sub.set_params(model, {k: v.to(getattr(torch, dtype)) for k, v in params.items()})
    return s, x, y, params, model


def module_forward(sub, seed, level, cls):
    for dtype, rtol in (("float64", RTOL64), ("float32", RTOL32)):
        s, x, y, params, model = _student_model(sub, seed, level, cls, dtype)
        out = sub.call((model, None), x.to(getattr(torch, dtype))).value
        t = expect_tensor(out, f"model(x) ({dtype})", (s.N, s.D_out), dtype, sub.device)
        expect_close(
            t,
            ref.model_forward(level, params, x),
            "model(x) with the grader's weights",
            rtol,
            f"x of {s}",
            hints={"the ReLU is missing between the layers": ref.model_forward(level, params, x, with_relu=False)},
        )
    sim_forward(sub, model, x.to(torch.float32), s)


def sim_forward(sub, model, x, s, **call_kwargs):
    """The model on the simulated GPU must keep its output there (no tensor created on the CPU)."""
    expect_sim_outputs(sub, (model, None), [x], [("model(x)", (s.N, s.D_out))], **call_kwargs)


def seed_for_depth(k: int, start: int) -> int:
    s = start
    while random.Random(s).randint(0, 3) != k:
        s += 1
    return s


def dynamic_forward(sub, seed):
    for dtype, rtol in (("float64", RTOL64), ("float32", RTOL32)):
        s, x, y, params, model = _student_model(sub, seed, 8, "DynamicNet", dtype)
        for k in range(4):
            ps = seed_for_depth(k, seed * 7 + k * 1000)
            r = sub.call((model, None), x.to(getattr(torch, dtype)), python_seed=ps)
            t = expect_tensor(r.value, f"model(x) ({dtype}, k={k})", (s.N, s.D_out), dtype, sub.device)
            others = {
                f"the output matches depth k={j}, but random.randint(0, 3) gave k={k}: draw k once per call "
                "with random.randint(0, 3) and apply middle_linear k times": ref.model_forward(8, params, x, j)
                for j in range(4)
                if j != k
            }
            expect_close(
                t, ref.model_forward(8, params, x, k), f"model(x) at depth k={k}", rtol, f"x of {s}", hints=others
            )
    sim_forward(sub, model, x.to(torch.float32), s, python_seed=seed_for_depth(3, seed))


def one_draw(sub, seed):
    s, x, y, params, model = _student_model(sub, seed, 8, "DynamicNet")
    ps = seed_for_depth(2, seed * 13)
    r = sub.call((model, None), x, python_seed=ps)
    for n in range(6):
        rnd = random.Random(ps)
        for _ in range(n):
            rnd.randint(0, 3)
        if rnd.random() == r.python_next:
            if n == 1:
                return
            raise CheckFailed(
                f"forward drew from Python's random {n} time(s) per call: draw k = random.randint(0, 3) "
                "exactly once per call and reuse it"
            )
    raise CheckFailed(
        "forward used Python's random in another way than one random.randint(0, 3) per call (or reseeded it)"
    )


def sharing(sub, seed):
    s, x, y, params, model = _student_model(sub, seed, 8, "DynamicNet")
    d = sub.describe(model)
    if len(d["linear_modules"]) != 3:
        raise CheckFailed(
            f"DynamicNet holds {len(d['linear_modules'])} Linear layers, expected 3: reuse the one "
            "middle_linear k times instead of creating layers"
        )
    ps = seed_for_depth(3, seed * 17)
    out = sub.call((model, None), x, python_seed=ps).value
    t = expect_tensor(out, "model(x)", (s.N, s.D_out))
    g = randn(generator(seed, 8, "upstream"), s.N, s.D_out)
    sub.backward(t, g)
    got = sub.params(model)
    p = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    (ref.model_forward(8, p, x, 3) * g).sum().backward()
    grad = got["middle_linear.weight"].grad
    if grad is None:
        raise CheckFailed("middle_linear got no gradient at depth k=3: apply self.middle_linear itself k times")
    want = p["middle_linear.weight"].grad
    expect_close(
        grad,
        want,
        "middle_linear.weight.grad at depth k=3",
        RTOL64,
        "an upstream gradient g",
        hints={
            "only one use of middle_linear reaches its gradient: reuse the same layer k times, without detaching": want
            / 3
        },
    )


def loop_optimizer(sub, shared, seed, level, momentum: float | None):
    r = lockstep(sub, shared, level, seed)
    built = r["observations"].get("optimizers", [])
    lr = r["problem"]["opt"].lr
    sgd = [b for b in built if b["type"] == "SGD" and b["module"].startswith("torch.optim")]
    if not sgd:
        kinds = ", ".join(b["type"] for b in built) or "none"
        raise CheckFailed(f"train should step through torch.optim.SGD (optimizers built: {kinds})")
    # Several optimizers (one per iteration) is the step stage's business when it loses state
    # (momentum); plain SGD keeps none, so rebuilding it changes nothing. Here: the right kind and settings.
    for d in (o["defaults"] for o in sgd):
        if abs(d.get("lr", -1) - lr) > 1e-12 * lr:
            raise CheckFailed(f"the optimizer's lr is {d.get('lr')}, expected the lr given to train ({lr:g})")
        if momentum is not None and abs(d.get("momentum", 0.0) - momentum) > 1e-12:
            raise CheckFailed(f"the optimizer's momentum is {d.get('momentum', 0.0)}, expected {momentum}")
    if not r["observations"].get("steps"):
        raise CheckFailed("optimizer.step() was never called")
