"""Level 3, the tutorial's autograd loop pasted as-is: the update and the zeroing of the gradients
inside one torch.no_grad() block, after the backward."""
import torch


def forward(x, w1, w2):
    # Forward pass: compute predicted y using operations on Tensors; these
    # are exactly the same operations we used to compute the forward pass using
    # Tensors, but we do not need to keep references to intermediate values since
    # we are not implementing the backward pass by hand.
    y_pred = x.mm(w1).clamp(min=0).mm(w2)
    return y_pred


def loss_fn(y_pred, y):
    loss = (y_pred - y).pow(2).sum()
    return loss


def backward(loss):
    # Use autograd to compute the backward pass.
    loss.backward()


def sgd_step(params, lr):
    with torch.no_grad():
        for w in params:
            w -= lr * w.grad


def zero_grad(params):
    with torch.no_grad():
        for w in params:
            if w.grad is not None:
                # Manually zero the gradients after updating weights
                w.grad.zero_()


def train(x, y, w1, w2, lr, steps):
    learning_rate = lr
    losses = []
    for t in range(steps):
        # Forward pass: compute predicted y using operations on Tensors
        y_pred = x.mm(w1).clamp(min=0).mm(w2)

        # Compute and print loss using operations on Tensors.
        # Now loss is a Tensor of shape (1,)
        # loss.item() gets the scalar value held in the loss.
        loss = (y_pred - y).pow(2).sum()
        if t % 100 == 99:
            print(t, loss.item())
        losses.append(loss.item())

        # Use autograd to compute the backward pass.
        loss.backward()

        # Manually update weights using gradient descent. Wrap in torch.no_grad()
        # because weights have requires_grad=True, but we don't need to track this
        # in autograd.
        with torch.no_grad():
            w1 -= learning_rate * w1.grad
            w2 -= learning_rate * w2.grad

            # Manually zero the gradients after updating weights
            w1.grad.zero_()
            w2.grad.zero_()
    return losses
