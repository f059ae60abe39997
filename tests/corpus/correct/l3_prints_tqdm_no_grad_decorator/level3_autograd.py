"""Level 3, prints in every unit, torch.no_grad() as a decorator, an out-of-place update through
.data, gradients set to None, a tqdm progress bar, losses converted at the end."""
import torch
from tqdm import tqdm


def forward(x, w1, w2):
    y_pred = x.mm(w1).clamp(min=0).mm(w2)
    print("forward:", y_pred.detach().cpu().numpy().shape, f"{y_pred.sum().item():.3f}")
    return y_pred


def loss_fn(y_pred, y):
    loss = (y_pred - y).pow(2).sum()
    print("loss", loss.item(), float(loss), f"{loss:.2f}")
    return loss


def backward(loss):
    print("backward from", loss.item())
    loss.backward()


@torch.no_grad()
def sgd_step(params, lr):
    for p in params:
        print("grad", p.grad.norm().item(), p.grad[0, :2].tolist())
        p.data = p.data - lr * p.grad.data


def zero_grad(params):
    for p in params:
        if p.grad is not None:
            print("zeroing", float(p.grad.abs().sum()))
        p.grad = None


def train(x, y, w1, w2, lr, steps):
    losses = []
    for t in tqdm(range(steps), desc="training"):
        y_pred = forward(x, w1, w2)
        loss = loss_fn(y_pred, y)
        losses.append(loss.detach())
        zero_grad([w1, w2])
        backward(loss)
        sgd_step([w1, w2], lr)
    return torch.stack(losses).tolist()
