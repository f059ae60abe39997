"""Level 6, another correct style: optimizer.zero_grad(set_to_none=False), keyword arguments,
progress on stderr."""
import sys

from torch import optim


def build_optimizer(model, lr):
    return optim.Adam(params=model.parameters(), lr=lr)


def train(model, loss_fn, optimizer, x, y, steps):
    losses = []
    for t in range(steps):
        y_pred = model(x)
        loss = loss_fn(y_pred, y)
        optimizer.zero_grad(set_to_none=False)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if t % 100 == 0:
            sys.stderr.write(f"{t} {loss.item()}\n")
    return losses
