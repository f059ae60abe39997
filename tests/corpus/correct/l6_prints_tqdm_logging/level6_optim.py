"""Level 6, prints, logging and a tqdm bar with the loss in its postfix."""
import logging

import torch
from tqdm import tqdm

logging.basicConfig(level=logging.DEBUG)


def build_optimizer(model, lr):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    print("optimizer", opt)
    return opt


def train(model, loss_fn, optimizer, x, y, steps):
    losses = []
    bar = tqdm(range(steps))
    for t in bar:
        y_pred = model(x)
        loss = loss_fn(y_pred, y)
        bar.set_postfix(loss=f"{loss.item():.4f}")
        logging.info("t=%d loss=%s first=%s", t, loss.item(), y_pred[0].tolist()[:2])
        losses.append(loss.detach().cpu().numpy().item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return losses
