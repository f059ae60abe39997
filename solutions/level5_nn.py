"""Level 5: torch.nn builds the model and the loss, and you still write the updates.

**What changes from level 4.** Until now the network was two bare weight matrices. `torch.nn`
packages the pieces instead. `nn.Linear(D_in, H)` is a layer that owns its weight *and a bias*,
created with `requires_grad=True` and a sensible random initialisation. `nn.ReLU()` is the
activation, and `nn.Sequential` chains layers, so that `model(x)` runs the whole forward pass.
`nn.MSELoss(reduction="sum")` is the sum of squared errors as a module. `model.parameters()`
yields every weight and bias, however many layers there are, so the update loop no longer
names them one by one.

The update is still written by hand. `torch.optim` is not allowed at this level (the
discipline check), and it arrives in level 6.

The five stages of the loop:

1. **forward**: `y_pred = model(x)`;
2. **loss**: `loss_fn(y_pred, y)`;
3. **zero the gradients**: `model.zero_grad()` resets the `.grad` of every parameter, because
   `.backward()` accumulates;
4. **backward**: `loss.backward()`;
5. **step**: `param -= lr * param.grad` for every parameter, under `torch.no_grad()`.
"""
import torch


# The model: Linear, ReLU, Linear, in that order. Each `nn.Linear` has a bias, unlike the bare
# weight matrices of levels 1 to 4.
def build_model(D_in, H, D_out):
    """Return `nn.Sequential(Linear(D_in, H), ReLU(), Linear(H, D_out))`.

    The order matters: the layers sit at indices 0, 1 and 2, and `model[0].weight` is the
    first layer's weight, of shape (H, D_in). `nn.Linear` stores its weight as
    (out_features, in_features) and computes `x @ weight.T + bias`.
    """
    # TODO: return nn.Sequential of Linear(D_in, H), ReLU() and Linear(H, D_out)
    ### BEGIN SOLUTION
    # hint forward: torch.nn packages layers as modules; `nn.Sequential` chains modules so that the
    #   output of one feeds the next, in the order you list them.
    # hint forward: The tutorial's network is three modules: a Linear layer from D_in to H, a ReLU,
    #   a Linear layer from H to D_out. `nn.Linear` includes its bias by default.
    # hint forward: Return `torch.nn.Sequential(...)` of `torch.nn.Linear(D_in, H)`,
    #   `torch.nn.ReLU()` and the second Linear, in that order.
    # hint forward if no_relu: Your model has no ReLU between the two Linear layers: put
    #   `torch.nn.ReLU()` at index 1.
    return torch.nn.Sequential(
        torch.nn.Linear(D_in, H),
        torch.nn.ReLU(),
        torch.nn.Linear(H, D_out),
    )
    ### END SOLUTION


# The loss as a module. `nn.MSELoss` averages by default, so ask it for the sum, which keeps
# the loss (and so the learning rate) on the same scale as in the earlier levels.
def build_loss():
    """Return a loss module computing the sum of squared errors: `nn.MSELoss(reduction="sum")`."""
    # TODO: return nn.MSELoss that sums (not averages) the squared errors
    ### BEGIN SOLUTION
    # hint loss: torch.nn has the sum-of-squared-errors loss ready made, as a module: which one,
    #   and how do you stop it from averaging?
    # hint loss: `nn.MSELoss` averages by default; its `reduction` argument chooses: the tutorial
    #   wants the sum.
    # hint loss: Return `torch.nn.MSELoss(...)` with reduction set to "sum".
    # hint loss if mean_loss: Your loss is the mean (MSELoss's default reduction). Pass
    #   `reduction="sum"`.
    return torch.nn.MSELoss(reduction="sum")
    ### END SOLUTION


# Zero the gradients of the whole model at once.
def zero_grad(model):
    """Reset the gradient of every parameter of `model`.

    `.backward()` adds to each parameter's `.grad`, so without a reset every step would use the
    sum of all the gradients so far. `model.zero_grad()` resets them all, setting them to `None`
    by default, which is as good as zeros.
    """
    # TODO: reset the gradients of all of model's parameters
    ### BEGIN SOLUTION
    # hint zero_grad: As at level 3, `.backward()` accumulates into every parameter's `.grad`; here
    #   the parameters live inside the model.
    # hint zero_grad: Every `nn.Module` can reset the gradients of all its parameters in one call:
    #   look at the Module's methods.
    # hint zero_grad: `model.zero_grad()` does it (or loop over `model.parameters()` and reset each
    #   `.grad`).
    # hint zero_grad if grad_not_reset: After your zero_grad the gradients still held values: reset
    #   each parameter's `.grad` (e.g. `model.zero_grad()`).
    # hint zero_grad if no_zero_grad: Each step moved the weights by the sum of all the gradients
    #   so far: zero the model's gradients every iteration, before backward.
    model.zero_grad()
    ### END SOLUTION


# The step by hand, over all of the model's parameters (weights and biases alike).
def sgd_step(model, lr):
    """Update every parameter of `model` in place, `param -= lr * param.grad`, without history.

    It runs under `torch.no_grad()` for the same reason as in level 3: the update must not be
    recorded in the graph, and the parameters must stay leaf tensors that require a gradient.
    """
    # TODO: under torch.no_grad(), for each param in model.parameters(): param -= lr * param.grad
    ### BEGIN SOLUTION
    # hint step: The same update as at level 3, for every parameter of the model (weights and
    #   biases): param minus lr times its gradient, without autograd recording it.
    # hint step: `model.parameters()` yields every parameter; run the loop inside `with
    #   torch.no_grad():` and update each in place.
    # hint step: Under no_grad, for each param in model.parameters(), subtract lr times
    #   `param.grad` in place with `-=`.
    # hint step if recorded_update: The update was recorded in the graph (or refused): change the
    #   parameters in place, inside `with torch.no_grad():`.
    # hint step if ascent: Your update went uphill: subtract lr × param.grad, do not add it.
    # hint step if not_in_place: The model's parameters did not change: update each one in place
    #   (`-=`), do not rebind or replace it.
    # hint step if no_step: The weights never changed during train: call sgd_step(model, lr) after
    #   backward in every iteration.
    # hint step if step_before_backward: Each update used the previous iteration's gradients: step
    #   after this iteration's backward.
    # hint discipline: Level 5 is about torch.nn with the update still written by you: torch.optim
    #   comes at level 6.
    # hint discipline: Remove any `torch.optim` optimizer and write the step as in sgd_step: a loop
    #   over `model.parameters()` under no_grad.
    # hint discipline if optim_too_early: The check saw torch.optim at level 5: write the update by
    #   hand (sgd_step), the optimizer is level 6's subject.
    with torch.no_grad():
        for param in model.parameters():
            param -= lr * param.grad
    ### END SOLUTION


# The training loop, with the model and the loss as modules.
def train(model, loss_fn, x, y, lr, steps):
    """Run `steps` iterations of gradient descent on `model`'s parameters, updating them in place.

    Return the loss of each iteration as a list of Python floats, each computed before that
    iteration's update. This loop zeroes the gradients just before the backward pass, as the
    tutorial does at this level. Zeroing them after the step, as in level 3, is equally
    correct.
    """
    # TODO: repeat `steps` times: forward, loss (record .item()), zero_grad, backward, sgd_step
    ### BEGIN SOLUTION
    # hint train: The loop calls the model like a function (`model(x)` runs its forward), the loss
    #   module on (y_pred, y), then zero_grad, backward and your sgd_step.
    # hint train: Record `loss.item()` before the update; zero the gradients before backward (or
    #   after the step), never between backward and step.
    # hint train: Each iteration: y_pred = model(x); loss = loss_fn(y_pred, y); append loss.item();
    #   zero_grad(model); loss.backward(); sgd_step(model, lr).
    # hint train if loss_after_update: The first loss you returned is not the loss of the initial
    #   weights: record it before the update.
    losses = []
    for t in range(steps):
        y_pred = model(x)
        loss = loss_fn(y_pred, y)
        losses.append(loss.item())
        zero_grad(model)
        loss.backward()
        sgd_step(model, lr)
    return losses
    ### END SOLUTION


# Try it: this fits random data at the seed's sizes with the seed's schedule (lr=1e-4, 500
# steps) and prints the loss every 100 steps. `build_model` creates its own initial weights.
if __name__ == "__main__":
    N, D_in, H, D_out = 64, 1000, 100, 10
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    x = torch.randn(N, D_in, device=device)
    y = torch.randn(N, D_out, device=device)
    model = build_model(D_in, H, D_out).to(device)
    loss_fn = build_loss()

    losses = train(model, loss_fn, x, y, lr=1e-4, steps=500)
    for t, loss in enumerate(losses):
        if t % 100 == 0 or t == len(losses) - 1:
            print(f"step {t:3d}  loss {loss:.4g}")
