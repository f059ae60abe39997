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
        # YOUR CODE HERE
        raise NotImplementedError("TwoLayerNet.__init__: see the TODO; stuck? hint(7, 'forward')")

    def forward(self, x):
        """Return `linear2(relu(linear1(x)))`, shape (N, D_out).

        Any tensor operations can be used here. Autograd records them as usual, so no backward
        method is needed.
        """
        # TODO: return self.linear2(relu(self.linear1(x)))
        # YOUR CODE HERE
        raise NotImplementedError("TwoLayerNet.forward: see the TODO; stuck? hint(7, 'forward')")


# The training loop, with its own loss and optimizer.
def train(model, x, y, lr, steps):
    """Train `model` for `steps` iterations of SGD with learning rate `lr`, in place.

    Build the loss (`nn.MSELoss(reduction="sum")`) and the optimizer
    (`torch.optim.SGD(model.parameters(), lr=lr)`) once, before the loop. A new optimizer on
    every iteration would throw away its state. Return the loss of each iteration as a list of
    Python floats, each computed before that iteration's update.
    """
    # TODO: build MSELoss(reduction="sum") and SGD(model.parameters(), lr=lr); loop as in level 6
    # YOUR CODE HERE
    raise NotImplementedError("train: see the TODO; stuck? hint(7, 'train')")


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
