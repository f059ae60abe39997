"""Level 7: a custom nn.Module.

**What changes from level 6.** `nn.Sequential` can only chain layers one after another. A
model with any other shape is written as a subclass of `nn.Module`: it creates its layers in
`__init__` and says how to combine them in `forward`. Assigning a layer to an attribute
(`self.linear1 = nn.Linear(...)`) registers it, so `model.parameters()` finds its weight and
bias without you listing them. Calling `model(x)` runs `forward` (through `nn.Module.__call__`,
which also runs any hooks). Never call `model.forward(x)` directly.

`train` now builds its own loss and optimizer: the sum of squared errors and plain SGD (the
update of levels 1 to 5, `param -= lr * param.grad`, done by `torch.optim.SGD`).

The five stages of the loop:

1. **forward**: `y_pred = model(x)`;
2. **loss**: `nn.MSELoss(reduction="sum")`;
3. **zero the gradients**: `optimizer.zero_grad()`, because `.backward()` accumulates;
4. **backward**: `loss.backward()`;
5. **step**: `optimizer.step()`.
"""
import torch


# The same two-layer network as in levels 5 and 6, written as a Module of its own.
class TwoLayerNet(torch.nn.Module):
    """Two `nn.Linear` layers (with bias) with a ReLU between them."""

    def __init__(self, D_in, H, D_out):
        """Create the layers: `self.linear1` (D_in to H) and `self.linear2` (H to D_out).

        `super().__init__()` comes first: it sets up the bookkeeping that registers the layers
        assigned below as submodules.
        """
        super().__init__()
        # TODO: create self.linear1 = nn.Linear(D_in, H) and self.linear2 = nn.Linear(H, D_out)
        ### BEGIN SOLUTION
        # hint forward: A custom nn.Module declares its layers in `__init__` (after
        #   `super().__init__()`), as attributes: that is how the module finds their parameters.
        # hint forward: Two attributes, named as the contract says: `self.linear1`, a Linear from
        #   D_in to H, and `self.linear2`, a Linear from H to D_out (both with their bias).
        self.linear1 = torch.nn.Linear(D_in, H)
        self.linear2 = torch.nn.Linear(H, D_out)
        ### END SOLUTION

    def forward(self, x):
        """Return `linear2(relu(linear1(x)))`, shape (N, D_out).

        Any tensor operations can be used here. Autograd records them as usual, so no backward
        method is needed.
        """
        # TODO: return self.linear2(relu(self.linear1(x)))
        ### BEGIN SOLUTION
        # hint forward: forward says how the layers connect: the first Linear, a ReLU, the second
        #   Linear.
        # hint forward: Call the layers you created as functions (`self.linear1(x)`); the ReLU
        #   needs no parameters, so `.clamp(min=0)` on the tensor does it.
        # hint forward if no_relu: Your forward has no ReLU between the layers: clamp the output of
        #   linear1 at 0.
        h_relu = self.linear1(x).clamp(min=0)
        y_pred = self.linear2(h_relu)
        return y_pred
        ### END SOLUTION


# The training loop, with its own loss and optimizer.
def train(model, x, y, lr, steps):
    """Train `model` for `steps` iterations of SGD with learning rate `lr`, in place.

    Build the loss (`nn.MSELoss(reduction="sum")`) and the optimizer
    (`torch.optim.SGD(model.parameters(), lr=lr)`) once, before the loop. A new optimizer on
    every iteration would throw away its state. Return the loss of each iteration as a list of
    Python floats, each computed before that iteration's update.
    """
    # TODO: build MSELoss(reduction="sum") and SGD(model.parameters(), lr=lr); loop as in level 6
    ### BEGIN SOLUTION
    # hint train: train builds its own tools, once, before the loop: the loss module and an SGD
    #   optimizer over the model's parameters. Then the level-6 loop.
    # hint train: Build `torch.nn.MSELoss(reduction="sum")` and
    #   `torch.optim.SGD(model.parameters(), lr=lr)` before the loop.
    # hint train: Each iteration: y_pred = model(x); loss; record loss.item();
    #   optimizer.zero_grad(); loss.backward(); optimizer.step().
    # hint train if loss_after_update: The first loss you returned is not the loss of the initial
    #   weights: record it before optimizer.step().
    # hint loss: Which loss does the tutorial use, and what does MSELoss do by default?
    # hint loss: MSELoss averages unless told otherwise: build it with `reduction="sum"`.
    # hint loss if mean_loss: Your loss is the mean of the squared errors:
    #   `torch.nn.MSELoss(reduction="sum")` gives the sum.
    # hint zero_grad: Gradients accumulate in `.grad` from one backward to the next: reset them
    #   every iteration.
    # hint zero_grad: `optimizer.zero_grad()` before `loss.backward()` (or after
    #   `optimizer.step()`).
    # hint zero_grad if no_zero_grad: Each step used the sum of all the gradients so far: call
    #   `optimizer.zero_grad()` every iteration.
    # hint zero_grad if zeroed_before_step: optimizer.step() ran on gradients already zeroed: zero
    #   before backward or after step, not between them.
    # hint step: The optimizer updates the parameters from their `.grad`, so `optimizer.step()`
    #   comes after `loss.backward()`, once per iteration.
    # hint step: Order inside the loop: zero_grad, backward, step.
    # hint step if no_step: The weights never changed: call `optimizer.step()` after backward.
    # hint step if ascent: The weights moved uphill: `optimizer.step()` already descends; do not
    #   negate the loss or the gradients.
    # hint step if step_before_backward: Each step used the previous iteration's gradients: step
    #   after this iteration's backward.
    # hint discipline: This level steps through torch.optim.SGD, with the learning rate given to
    #   train.
    # hint discipline: Build `torch.optim.SGD(model.parameters(), lr=lr)` once and call its
    #   `step()`; no update by hand.
    criterion = torch.nn.MSELoss(reduction="sum")
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for t in range(steps):
        y_pred = model(x)
        loss = criterion(y_pred, y)
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return losses
    ### END SOLUTION


# Try it: this fits random data at the seed's sizes with the seed's schedule (SGD, lr=1e-4,
# 500 steps) and prints the loss every 100 steps.
if __name__ == "__main__":
    N, D_in, H, D_out = 64, 1000, 100, 10
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    x = torch.randn(N, D_in, device=device)
    y = torch.randn(N, D_out, device=device)
    model = TwoLayerNet(D_in, H, D_out).to(device)

    losses = train(model, x, y, lr=1e-4, steps=500)
    for t, loss in enumerate(losses):
        if t % 100 == 0 or t == len(losses) - 1:
            print(f"step {t:3d}  loss {loss:.4g}")
