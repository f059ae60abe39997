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
    # TODO: return a torch.optim.Adam optimizer over model.parameters() with learning rate lr
    ### BEGIN SOLUTION
    # hint step: An optimizer holds the parameters it updates and its settings, and does the update
    #   in `step()`. Which parameters, and which learning rate?
    # hint step: `torch.optim.Adam` takes the parameters as an iterable (`model.parameters()`) and
    #   the learning rate as `lr=`.
    # hint step: Return Adam over model.parameters() with lr=lr; nothing else to set.
    # hint step if optimizer_setting: Adam's other settings (betas, eps, weight_decay, amsgrad...)
    #   keep their defaults here: the message names the one you changed. Pass only the parameters and lr.
    # hint step if optimizer_rebuilt: Adam keeps running averages of the gradients between steps;
    #   building it anew each iteration throws them away. Build it once, before the loop.
    return torch.optim.Adam(model.parameters(), lr=lr)
    ### END SOLUTION


# The training loop, with the update delegated to the optimizer.
def train(model, loss_fn, optimizer, x, y, steps):
    """Run `steps` iterations of `optimizer` on `model`, updating its parameters in place.

    Return the loss of each iteration as a list of Python floats, each computed before that
    iteration's update. The order matters. Zero the gradients before `.backward()`, so that
    this step's gradients are not added to the last step's, and call `optimizer.step()` after
    it, so that the update reads this step's gradients.
    """
    # TODO: repeat `steps` times: forward, loss (.item()), zero_grad, backward, optimizer.step()
    ### BEGIN SOLUTION
    # hint train: The optimizer now does what sgd_step and zero_grad did: the loop is forward,
    #   loss, zero the gradients, backward, step.
    # hint train: Record `loss.item()` first. The gradients are zeroed with `optimizer.zero_grad()`
    #   before backward; `optimizer.step()` comes after backward.
    # hint train: Each iteration: y_pred = model(x); loss = loss_fn(y_pred, y); record it;
    #   optimizer.zero_grad(); loss.backward(); optimizer.step().
    # hint train if loss_after_update: The first loss you returned is not the loss of the initial
    #   weights: record it before optimizer.step().
    # hint train if mean_loss: Use the loss_fn you were given (it sums); a mean changes the scale
    #   of every gradient.
    # hint zero_grad: Gradients still accumulate in `.grad` at this level: something must reset
    #   them every iteration.
    # hint zero_grad: The optimizer knows its parameters: `optimizer.zero_grad()` resets them all
    #   (`model.zero_grad()` does too). Call it before `loss.backward()`.
    # hint zero_grad if no_zero_grad: Each step used the sum of all the gradients so far: call
    #   `optimizer.zero_grad()` in every iteration, before backward.
    # hint zero_grad if zeroed_before_step: optimizer.step() ran on gradients that were already
    #   zeroed: zero them before backward (or after step), never between backward and step.
    # hint step if no_step: The weights never changed: call `optimizer.step()` after backward in
    #   every iteration.
    # hint step if ascent: The weights moved uphill: do not negate the loss or the gradients;
    #   `optimizer.step()` already descends.
    # hint step if step_before_backward: Each step used the previous iteration's gradients: call
    #   `optimizer.step()` after this iteration's backward.
    # hint discipline: At this level the optimizer does the update: the parameters must change only
    #   inside `optimizer.step()`.
    # hint discipline: Remove any update written by hand (`p -= ...`, `p.data = ...`) and let
    #   `optimizer.step()` do it.
    # hint discipline if update_outside_optimizer: The parameters changed outside optimizer.step(),
    #   or step() never ran: remove the update by hand and call `optimizer.step()`.
    losses = []
    for t in range(steps):
        y_pred = model(x)
        loss = loss_fn(y_pred, y)
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return losses
    ### END SOLUTION


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
