"""Level 8: a dynamic network, with Python control flow and a shared layer.

**What changes from level 7.** PyTorch builds the graph anew on every forward pass, as the
code runs, so `forward` can use ordinary Python: loops, conditions, random choices. This
network draws a random depth `k` from 0 to 3 on every call and applies *the same* middle layer
`k` times. Reusing one module is weight sharing. Autograd records every use, and the middle
layer's gradient is the sum of the gradients from all of them.

Training uses SGD with momentum, which keeps a running velocity for each parameter and so needs
the optimizer's state to last across iterations.

The five stages of the loop:

1. **forward**: `y_pred = model(x)`, with a new random depth on each call;
2. **loss**: `nn.MSELoss(reduction="sum")`;
3. **zero the gradients**: `optimizer.zero_grad()`, because `.backward()` accumulates;
4. **backward**: `loss.backward()`, through however many copies of the middle layer this
   call used;
5. **step**: `optimizer.step()`.
"""
import random

import torch


# A network whose depth changes from one call to the next, with one middle layer reused at
# every depth.
class DynamicNet(torch.nn.Module):
    """Input layer, then the middle layer 0 to 3 times (chosen at random per call), then output."""

    def __init__(self, D_in, H, D_out):
        """Create `self.input_linear` (D_in to H), `self.middle_linear` (H to H) and
        `self.output_linear` (H to D_out), all `nn.Linear` with bias.

        There is a single middle layer. The depth varies, but every repetition uses these same
        parameters.
        """
        super().__init__()
        # TODO: create self.input_linear (D_in, H), .middle_linear (H, H), .output_linear (H, D_out)
        # YOUR CODE HERE
        raise NotImplementedError("DynamicNet.__init__: see the TODO; stuck? hint(8, 'forward')")

    def forward(self, x):
        """Return `output_linear(h)`, where `h = relu(input_linear(x))` has then gone through
        `h = relu(middle_linear(h))` k times, with `k = random.randint(0, 3)`.

        Draw `k` exactly once per call, with Python's `random`. One draw is one choice of depth
        for the whole forward pass, and the grader reproduces it by seeding `random`.
        """
        # TODO: h = relu(input_linear(x)); k = random.randint(0, 3); k times: relu(middle_linear(h))
        # YOUR CODE HERE
        raise NotImplementedError("DynamicNet.forward: see the TODO; stuck? hint(8, 'forward')")


# The training loop of level 7, with momentum.
def train(model, x, y, lr, momentum, steps):
    """Train `model` for `steps` iterations of SGD with momentum, in place.

    Build `nn.MSELoss(reduction="sum")` and
    `torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)` once, before the loop. The
    momentum lives in the optimizer's state, so a new optimizer on every iteration would lose
    it. Return the loss of each iteration as a list of Python floats, each computed before that
    iteration's update.
    """
    # TODO: MSELoss(reduction="sum"), SGD(..., lr=lr, momentum=momentum), then the level-7 loop
    # YOUR CODE HERE
    raise NotImplementedError("train: see the TODO; stuck? hint(8, 'train')")


# Try it: this fits random data at the seed's sizes with the seed's schedule (SGD, lr=1e-4,
# momentum=0.9, 500 steps) and prints the loss every 100 steps. Seeding `random` fixes the
# sequence of depths.
if __name__ == "__main__":
    N, D_in, H, D_out = 64, 1000, 100, 10
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    random.seed(0)
    torch.manual_seed(0)
    x = torch.randn(N, D_in, device=device)
    y = torch.randn(N, D_out, device=device)
    model = DynamicNet(D_in, H, D_out).to(device)

    losses = train(model, x, y, lr=1e-4, momentum=0.9, steps=500)
    for t, loss in enumerate(losses):
        if t % 100 == 0 or t == len(losses) - 1:
            print(f"step {t:3d}  loss {loss:.4g}")
