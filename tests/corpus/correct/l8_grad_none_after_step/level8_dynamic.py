"""Level 8, another correct style: F.relu, k drawn once into a variable, the gradients set to None
after the step (momentum then differs for a layer unused in a step: both are accepted)."""
import random

import torch
import torch.nn.functional as F
from torch import nn


class DynamicNet(nn.Module):
    def __init__(self, D_in, H, D_out):
        super().__init__()
        self.input_linear = nn.Linear(D_in, H)
        self.middle_linear = nn.Linear(H, H)
        self.output_linear = nn.Linear(H, D_out)

    def forward(self, x):
        h = F.relu(self.input_linear(x))
        depth = random.randint(0, 3)
        i = 0
        while i < depth:
            h = F.relu(self.middle_linear(h))
            i += 1
        return self.output_linear(h)


def train(model, x, y, lr, momentum, steps):
    loss_fn = nn.MSELoss(reduction="sum")
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    losses = []
    for t in range(steps):
        y_pred = model(x)
        loss = loss_fn(y_pred, y)
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return losses
