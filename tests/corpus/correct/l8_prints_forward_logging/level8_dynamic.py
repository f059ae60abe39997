"""Level 8, prints inside forward, logging in train, p.grad.zero_() through model.zero_grad(set_to_none=False)."""
import logging
import random

import torch

log = logging.getLogger("dynamic")


class DynamicNet(torch.nn.Module):
    def __init__(self, D_in, H, D_out):
        super().__init__()
        self.input_linear = torch.nn.Linear(D_in, H)
        self.middle_linear = torch.nn.Linear(H, H)
        self.output_linear = torch.nn.Linear(H, D_out)

    def forward(self, x):
        h_relu = self.input_linear(x).clamp(min=0)
        k = random.randint(0, 3)
        print(f"depth {k}", h_relu.mean().item())
        for _ in range(k):
            h_relu = self.middle_linear(h_relu).clamp(min=0)
            print("middle", float(h_relu.sum()), h_relu.detach().cpu().numpy().shape)
        y_pred = self.output_linear(h_relu)
        print("y_pred", y_pred[0].tolist()[:3])
        return y_pred


def train(model, x, y, lr, momentum, steps):
    criterion = torch.nn.MSELoss(reduction="sum")
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    losses = []
    for t in range(steps):
        y_pred = model(x)
        loss = criterion(y_pred, y)
        log.warning("t=%d loss=%.5f", t, loss.item())
        losses.append(loss.item())
        model.zero_grad(set_to_none=False)
        loss.backward()
        optimizer.step()
    return losses
