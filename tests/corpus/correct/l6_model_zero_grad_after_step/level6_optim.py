"""Level 6, another correct style: model.zero_grad() after the step, a warning, Adam given a list."""
import warnings

import torch


def build_optimizer(model, lr):
    return torch.optim.Adam(list(model.parameters()), lr=lr)


def train(model, loss_fn, optimizer, x, y, steps):
    losses = []
    for t in range(steps):
        loss = loss_fn(model(x), y)
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
        model.zero_grad()
    if losses and losses[-1] > losses[0]:
        warnings.warn("the loss went up")
    warnings.warn("done training")
    return losses
