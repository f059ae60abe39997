"""Level 5, another correct style: the Sequential filled with append, model.zero_grad(
set_to_none=False) after the step, the update through .data."""
import torch


def build_model(D_in, H, D_out):
    model = torch.nn.Sequential()
    model.append(torch.nn.Linear(D_in, H))
    model.append(torch.nn.ReLU())
    model.append(torch.nn.Linear(H, D_out))
    return model


def build_loss():
    return torch.nn.MSELoss(reduction="sum")


def zero_grad(model):
    model.zero_grad(set_to_none=False)


def sgd_step(model, lr):
    for param in model.parameters():
        param.data -= lr * param.grad.data


def train(model, loss_fn, x, y, lr, steps):
    losses = []
    for _ in range(steps):
        y_pred = model(x)
        loss = loss_fn(y_pred, y)
        losses.append(loss.item())
        loss.backward()
        sgd_step(model, lr)
        zero_grad(model)
    return losses
