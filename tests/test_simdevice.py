"""The simulated GPU (autograder/child/simdevice.py), in-process: it collides where CUDA collides,
and lets through what CUDA lets through (printing values, 0-dim CPU scalars, CPU indices)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autograder.child.simdevice import SIM, SimulatedDevice, device_of, mark, mark_module


@pytest.fixture
def xw():
    x, w = torch.randn(4, 3, dtype=torch.float64), torch.randn(3, 2, dtype=torch.float64)
    mark(x, SIM)
    mark(w, SIM)
    return x, w


def run(fn):
    with SimulatedDevice():
        return fn()


def where(t):
    return device_of(t, simulated=True)


def test_a_tensor_made_without_device_collides_as_on_a_gpu(xw):
    x, w = xw
    with pytest.raises(RuntimeError, match="same device"):
        run(lambda: x @ w + torch.zeros(4, 2, dtype=x.dtype))
    with pytest.raises(RuntimeError, match="same device"):
        run(lambda: torch.cat([x, torch.ones(1, 3, dtype=x.dtype)]))


def test_numpy_of_a_gpu_tensor_fails_as_on_cuda(xw):
    x, _ = xw
    with pytest.raises(TypeError, match="cuda:0 device type tensor to numpy"):
        run(lambda: x.numpy())
    with pytest.raises(TypeError, match="cuda:0"):
        run(lambda: np.asarray(x.detach()))


def test_printing_values_works(xw, capsys):
    x, w = xw

    def prints():
        y = x @ w
        print(y.sum().item(), float(y.sum()), y.tolist()[0], f"{y.sum():.3f}", y, y.cpu().numpy().shape)
        return y

    assert where(run(prints)) == "cuda:0 (simulated)"
    assert "tensor(" in capsys.readouterr().out


@pytest.mark.parametrize(
    "make",
    [
        lambda x: torch.zeros(4, 3, dtype=x.dtype, device=x.device),
        lambda x: torch.zeros_like(x),
        lambda x: x.new_zeros(4, 3),
        lambda x: torch.ones(4, 3).to(x.device),
        lambda x: torch.ones(4, 3).to(x),
        lambda x: torch.ones(4, 3, device=str(x.device)),
        lambda x: torch.ones(4, 3, device=x.device.type),
        lambda x: torch.ones(4, 3, device=x.get_device()),
        lambda x: torch.ones(4, 3).cuda(),
        lambda x: x.to(torch.float32),
        lambda x: x.clamp(min=0) * (x > 0),
        lambda x: torch.where(x > 0, x, torch.zeros((), dtype=x.dtype)),
        lambda x: x + torch.tensor(2.0, dtype=x.dtype),
    ],
    ids=range(13),
)
def test_tensors_made_on_the_inputs_device_stay_there(xw, make):
    x, _ = xw
    out = run(lambda: make(x) + x)
    assert where(out) == "cuda:0 (simulated)"


def test_cpu_copies_are_on_the_cpu(xw):
    x, _ = xw
    assert run(lambda: where(x.cpu())) == "cpu"
    assert run(lambda: where(x.to("cpu"))) == "cpu"


def test_indexing_with_a_cpu_mask_and_in_place_zeroing_work(xw):
    x, _ = xw

    def masked():
        g = x.clone()
        g[x < 0] = 0
        g[torch.tensor([True, False, True, False])] = 1.0
        return g

    assert where(run(masked)) == "cuda:0 (simulated)"


def test_autograd_and_modules_on_the_simulated_gpu(xw):
    x, _ = xw
    model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2)).double()
    mark_module(model)

    def step():
        loss = torch.nn.MSELoss(reduction="sum")(model(x), torch.zeros(4, 2, dtype=x.dtype, device=x.device))
        print("loss", loss.item())
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
                p.data = p.data - 0.1 * p.grad.data
        return model(x)

    assert where(run(step)) == "cuda:0 (simulated)"
    with pytest.raises(RuntimeError, match="same device"):
        run(lambda: model(x) + torch.ones(4, 2, dtype=x.dtype))


def test_unknown_origin_never_fails(xw):
    x, _ = xw
    g = torch.ones(4, 3, dtype=x.dtype)  # made outside the simulation: no mark, so no verdict
    assert where(run(lambda: x + g)) == "cuda:0 (simulated)"
