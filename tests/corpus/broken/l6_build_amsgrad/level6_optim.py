"""Level 6: torch.optim does the update.

**What changes from level 5.** The hand-written update (`param -= lr * param.grad` under
`no_grad`) gives way to an optimizer. An optimizer is built over the model's parameters and
keeps whatever state its update rule needs. `optimizer.zero_grad()` resets their gradients, and
`optimizer.step()` updates them from their `.grad`. Here the rule is **Adam**, which gives every
parameter its own step size from running averages of its gradients. That is the tutorial's
choice for this level, and it would be tedious to write by hand.

The model and the loss come from level 5 and are handed to you, already built.

The five stages of the loop:

1. **forward**: `y_pred = model(x)`;
2. **loss**: `loss_fn(y_pred, y)`;
3. **zero the gradients**: `optimizer.zero_grad()`, because `.backward()` accumulates;
4. **backward**: `loss.backward()`;
5. **step**: `optimizer.step()`. The parameters change only there: updating them by hand
   fails the discipline check.
"""
import torch


# The optimizer: Adam over every parameter of the model, with learning rate `lr`.
def build_optimizer(model, lr):
    """Return `torch.optim.Adam` over all of `model`'s parameters, with learning rate `lr`.

    Pass `model.parameters()`: the optimizer updates exactly the tensors it was given, so a
    parameter left out would never train.
    """
    return torch.optim.Adam(model.parameters(), lr=lr, amsgrad=True)


# The training loop, with the update delegated to the optimizer.
def train(model, loss_fn, optimizer, x, y, steps):
    """Run `steps` iterations of `optimizer` on `model`, updating its parameters in place.

    Return the loss of each iteration as a list of Python floats, each computed before that
    iteration's update. The order matters. Zero the gradients before `.backward()`, so that
    this step's gradients are not added to the last step's, and call `optimizer.step()` after
    it, so that the update reads this step's gradients.
    """
    losses = []
    for t in range(steps):
        y_pred = model(x)
        loss = loss_fn(y_pred, y)
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return losses


# Try it: this fits random data at the seed's sizes with the seed's schedule (Adam, lr=1e-4,
# 500 steps) and prints the loss every 100 steps. The model and the loss are built here, as in
# level 5.
if __name__ == "__main__":
    N, D_in, H, D_out = 64, 1000, 100, 10
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    x = torch.randn(N, D_in, device=device)
    y = torch.randn(N, D_out, device=device)
    model = torch.nn.Sequential(
        torch.nn.Linear(D_in, H),
        torch.nn.ReLU(),
        torch.nn.Linear(H, D_out),
    ).to(device)
    loss_fn = torch.nn.MSELoss(reduction="sum")
    optimizer = build_optimizer(model, lr=1e-4)

    losses = train(model, loss_fn, optimizer, x, y, steps=500)
    for t, loss in enumerate(losses):
        if t % 100 == 0 or t == len(losses) - 1:
            print(f"step {t:3d}  loss {loss:.4g}")
