"""Level 7, another correct style: torch.relu, nn.MSELoss(reduction="sum"), the gradients zeroed
to zeros after the step, prints."""
import torch


class TwoLayerNet(torch.nn.Module):
    def __init__(self, D_in, H, D_out):
        super(TwoLayerNet, self).__init__()
        self.linear1 = torch.nn.Linear(D_in, H)
        self.linear2 = torch.nn.Linear(H, D_out)

    def forward(self, x):
        h_relu = torch.relu(self.linear1(x))
        return self.linear2(h_relu)


def train(model, x, y, lr, steps):
    loss_fn = torch.nn.MSELoss(reduction="sum")
    opt = torch.optim.SGD(model.parameters(), lr)
    losses = []
    for t in range(steps):
        loss = loss_fn(model(x), y)
        losses.append(loss.item())
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=False)
        if t == steps - 1:
            print("last loss", loss.item())
    return losses
