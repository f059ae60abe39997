"""Level 8, the classic tutorial's style: the draw inside range(), torch.relu, zero_grad(
set_to_none=False) before the backward, a warning."""
import random
import warnings

import torch


class DynamicNet(torch.nn.Module):
    def __init__(self, D_in, H, D_out):
        super().__init__()
        self.input_linear = torch.nn.Linear(D_in, H)
        self.middle_linear = torch.nn.Linear(H, H)
        self.output_linear = torch.nn.Linear(H, D_out)

    def forward(self, x):
        h_relu = torch.relu(self.input_linear(x))
        for _ in range(random.randint(0, 3)):
            h_relu = torch.relu(self.middle_linear(h_relu))
        return self.output_linear(h_relu)


def train(model, x, y, lr, momentum, steps):
    criterion = torch.nn.MSELoss(reduction="sum")
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    warnings.warn("the depth is random: the loss will jump around")
    losses = []
    for t in range(steps):
        loss = criterion(model(x), y)
        losses.append(loss.item())
        optimizer.zero_grad(set_to_none=False)
        loss.backward()
        optimizer.step()
    return losses
