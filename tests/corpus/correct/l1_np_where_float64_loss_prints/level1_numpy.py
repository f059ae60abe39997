"""Level 1, another correct style: h * (h > 0), np.dot, an np.float64 loss, prints in train."""
import numpy as np


def forward(x, w1, w2):
    h = np.dot(x, w1)
    h_relu = h * (h > 0)
    return np.dot(h_relu, w2), h


def loss_fn(y_pred, y):
    d = y_pred - y
    return (d * d).sum()  # an np.float64, not a Python float


def backward(x, h, w2, y_pred, y):
    grad_y_pred = 2 * (y_pred - y)
    grad_w2 = np.dot((h * (h > 0)).T, grad_y_pred)
    grad_h = np.dot(grad_y_pred, w2.T) * (h > 0)
    grad_w1 = np.dot(x.T, grad_h)
    return grad_w1, grad_w2


def sgd_step(params, grads, lr):
    for i in range(len(params)):
        params[i] -= lr * grads[i]


def train(x, y, w1, w2, lr, steps):
    losses = []
    for t in range(steps):
        y_pred, h = forward(x, w1, w2)
        loss = loss_fn(y_pred, y)
        losses.append(loss)
        if t % 100 == 99:
            print(t, loss)
        gw1, gw2 = backward(x, h, w2, y_pred, y)
        sgd_step([w1, w2], [gw1, gw2], lr)
    return losses
