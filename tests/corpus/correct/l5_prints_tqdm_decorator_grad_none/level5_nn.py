"""Level 5, prints in every unit, a tqdm bar, torch.no_grad() as a decorator, p.grad = None."""
import torch
from tqdm.auto import trange


def build_model(D_in, H, D_out):
    model = torch.nn.Sequential(torch.nn.Linear(D_in, H), torch.nn.ReLU(), torch.nn.Linear(H, D_out))
    print(model, sum(p.numel() for p in model.parameters()))
    return model


def build_loss():
    loss = torch.nn.MSELoss(reduction="sum")
    print("loss:", loss)
    return loss


def zero_grad(model):
    for p in model.parameters():
        if p.grad is not None:
            print("grad before zeroing", p.grad.norm().item())
        p.grad = None


@torch.no_grad()
def sgd_step(model, lr):
    for p in model.parameters():
        print(f"update {tuple(p.shape)} by {float((lr * p.grad).abs().max()):.3g}", p.grad.flatten()[:2].tolist())
        p -= lr * p.grad


def train(model, loss_fn, x, y, lr, steps):
    losses = []
    for t in trange(steps):
        y_pred = model(x)
        loss = loss_fn(y_pred, y)
        print(t, loss.item(), y_pred.detach().cpu().numpy().mean())
        losses.append(loss)
        zero_grad(model)
        loss.backward()
        sgd_step(model, lr)
    return [l.item() for l in losses]
