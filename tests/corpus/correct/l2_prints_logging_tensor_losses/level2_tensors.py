"""Level 2, printing values in every unit (.item(), float, .tolist(), .cpu().numpy(), f-strings),
logging, and the losses kept as tensors, converted once at the end."""
import logging

import torch

log = logging.getLogger("level2")
logging.basicConfig(level=logging.INFO)


def forward(x, w1, w2):
    h = x.mm(w1)
    print("h:", h.shape, h[0, :3].tolist(), f"mean {h.mean().item():.4f}")
    h_relu = h.clamp(min=0)
    y_pred = h_relu.mm(w2)
    print("y_pred sum", float(y_pred.sum()), y_pred.cpu().numpy()[0, :2])
    return y_pred, h


def loss_fn(y_pred, y):
    loss = (y_pred - y).pow(2).sum()
    print(f"loss = {loss.item():.6g} ({loss})")
    log.info("loss %s", float(loss))
    return loss


def backward(x, h, w2, y_pred, y):
    grad_y_pred = 2.0 * (y_pred - y)
    h_relu = h.clamp(min=0)
    grad_w2 = h_relu.t().mm(grad_y_pred)
    grad_h = grad_y_pred.mm(w2.t())
    grad_h = grad_h * (h > 0).to(h.dtype)
    grad_w1 = x.t().mm(grad_h)
    print("grad norms", grad_w1.norm().item(), grad_w2.norm().cpu().numpy(), grad_w2[0].tolist()[:2])
    return grad_w1, grad_w2


def sgd_step(params, grads, lr):
    for p, g in zip(params, grads):
        print("step", p.shape, f"{g.abs().max().item():.3g}")
        p.sub_(lr * g)


def train(x, y, w1, w2, lr, steps):
    losses = []
    for t in range(steps):
        y_pred, h = forward(x, w1, w2)
        loss = loss_fn(y_pred, y)
        losses.append(loss)  # kept as tensors...
        log.info("iteration %d: %.4f", t, loss.item())
        grad_w1, grad_w2 = backward(x, h, w2, y_pred, y)
        sgd_step([w1, w2], [grad_w1, grad_w2], lr)
    return [float(l) for l in losses]  # ...converted once at the end
