"""Level 2, the tutorial's own code (classic "Learning PyTorch with Examples", tensors) pasted into
the stubs as-is: x.mm, .clamp, the loss printed every 100 steps, .item() inside the loop."""
import torch


def forward(x, w1, w2):
    # Forward pass: compute predicted y
    h = x.mm(w1)
    h_relu = h.clamp(min=0)
    y_pred = h_relu.mm(w2)
    return y_pred, h


def loss_fn(y_pred, y):
    # Compute and print loss
    loss = (y_pred - y).pow(2).sum()
    return loss


def backward(x, h, w2, y_pred, y):
    # Backprop to compute gradients of w1 and w2 with respect to loss
    h_relu = h.clamp(min=0)
    grad_y_pred = 2.0 * (y_pred - y)
    grad_w2 = h_relu.t().mm(grad_y_pred)
    grad_h_relu = grad_y_pred.mm(w2.t())
    grad_h = grad_h_relu.clone()
    grad_h[h < 0] = 0
    grad_w1 = x.t().mm(grad_h)
    return grad_w1, grad_w2


def sgd_step(params, grads, lr):
    # Update weights using gradient descent
    for w, grad in zip(params, grads):
        w -= lr * grad


def train(x, y, w1, w2, lr, steps):
    learning_rate = lr
    losses = []
    for t in range(steps):
        # Forward pass: compute predicted y
        h = x.mm(w1)
        h_relu = h.clamp(min=0)
        y_pred = h_relu.mm(w2)

        # Compute and print loss
        loss = (y_pred - y).pow(2).sum().item()
        if t % 100 == 99:
            print(t, loss)
        losses.append(loss)

        # Backprop to compute gradients of w1 and w2 with respect to loss
        grad_y_pred = 2.0 * (y_pred - y)
        grad_w2 = h_relu.t().mm(grad_y_pred)
        grad_h_relu = grad_y_pred.mm(w2.t())
        grad_h = grad_h_relu.clone()
        grad_h[h < 0] = 0
        grad_w1 = x.t().mm(grad_h)

        # Update weights using gradient descent
        w1 -= learning_rate * grad_w1
        w2 -= learning_rate * grad_w2
    return losses
