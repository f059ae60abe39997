"""Level 7, prints inside forward (values, f-strings, .tolist(), .cpu().numpy()), tqdm in train."""
import torch
from tqdm import tqdm


class TwoLayerNet(torch.nn.Module):
    def __init__(self, D_in, H, D_out):
        super().__init__()
        self.linear1 = torch.nn.Linear(D_in, H)
        self.linear2 = torch.nn.Linear(H, D_out)
        print("built", self)

    def forward(self, x):
        h_relu = self.linear1(x).clamp(min=0)
        print(f"active units: {(h_relu > 0).float().mean().item():.2%}", h_relu[0, :2].tolist())
        y_pred = self.linear2(h_relu)
        print("out", float(y_pred.sum()), y_pred.detach().cpu().numpy().shape, f"{y_pred.norm()}")
        return y_pred


def train(model, x, y, lr, steps):
    criterion = torch.nn.MSELoss(reduction="sum")
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for t in tqdm(range(steps), leave=False):
        y_pred = model(x)
        loss = criterion(y_pred, y)
        losses.append(loss)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return [float(l) for l in losses]
