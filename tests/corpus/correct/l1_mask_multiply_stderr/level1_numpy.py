"""Level 1, another correct style: np.maximum into np.where, np.sum of a power, stderr output,
and an update through np.subtract(..., out=p)."""
import sys

import numpy as np


def forward(x, w1, w2):
    h = np.matmul(x, w1)
    return np.matmul(np.where(h > 0, h, 0.0), w2), h


def loss_fn(y_pred, y):
    return float(np.sum((y_pred - y) ** 2))


def backward(x, h, w2, y_pred, y):
    g = 2.0 * (y_pred - y)
    grad_w2 = np.maximum(h, 0).T.dot(g)
    grad_h = g.dot(w2.T)
    grad_h = np.where(h < 0, 0.0, grad_h)
    return x.T.dot(grad_h), grad_w2


def sgd_step(params, grads, lr):
    for p, g in zip(params, grads):
        np.subtract(p, lr * g, out=p)


def train(x, y, w1, w2, lr, steps):
    losses = []
    print("training for", steps, "steps", file=sys.stderr)
    for _ in range(steps):
        y_pred, h = forward(x, w1, w2)
        losses.append(loss_fn(y_pred, y))
        sgd_step([w1, w2], list(backward(x, h, w2, y_pred, y)), lr)
    print("final loss", losses[-1], file=sys.stderr)
    return losses
