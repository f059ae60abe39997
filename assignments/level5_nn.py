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
    # YOUR CODE HERE
    raise NotImplementedError("build_model: see the TODO; stuck? hint(5, 'forward')")


# The loss as a module. `nn.MSELoss` averages by default, so ask it for the sum, which keeps
# the loss (and so the learning rate) on the same scale as in the earlier levels.
def build_loss():
    """Return a loss module computing the sum of squared errors: `nn.MSELoss(reduction="sum")`."""
    # TODO: return nn.MSELoss that sums (not averages) the squared errors
    # YOUR CODE HERE
    raise NotImplementedError("build_loss: see the TODO; stuck? hint(5, 'loss')")


# Zero the gradients of the whole model at once.
def zero_grad(model):
    """Reset the gradient of every parameter of `model`.

    `.backward()` adds to each parameter's `.grad`, so without a reset every step would use the
    sum of all the gradients so far. `model.zero_grad()` resets them all, setting them to `None`
    by default, which is as good as zeros.
    """
    # TODO: reset the gradients of all of model's parameters
    # YOUR CODE HERE
    raise NotImplementedError("zero_grad: see the TODO; stuck? hint(5, 'zero_grad')")


# The step by hand, over all of the model's parameters (weights and biases alike).
def sgd_step(model, lr):
    """Update every parameter of `model` in place, `param -= lr * param.grad`, without history.

    It runs under `torch.no_grad()` for the same reason as in level 3: the update must not be
    recorded in the graph, and the parameters must stay leaf tensors that require a gradient.
    """
    # TODO: under torch.no_grad(), for each param in model.parameters(): param -= lr * param.grad
    # YOUR CODE HERE
    raise NotImplementedError("sgd_step: see the TODO; stuck? hint(5, 'step')")


# The training loop, with the model and the loss as modules.
def train(model, loss_fn, x, y, lr, steps):
    """Run `steps` iterations of gradient descent on `model`'s parameters, updating them in place.

    Return the loss of each iteration as a list of Python floats, each computed before that
    iteration's update. This loop zeroes the gradients just before the backward pass, as the
    tutorial does at this level. Zeroing them after the step, as in level 3, is equally
    correct.
    """
    # TODO: repeat `steps` times: forward, loss (record .item()), zero_grad, backward, sgd_step
    # YOUR CODE HERE
    raise NotImplementedError("train: see the TODO; stuck? hint(5, 'train')")


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
