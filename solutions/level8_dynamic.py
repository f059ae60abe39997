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
        ### BEGIN SOLUTION
        # hint forward: Three layers, created once in `__init__`: an input layer, ONE middle layer
        #   that forward may use several times, and an output layer.
        # hint forward: `self.input_linear` maps D_in to H, `self.middle_linear` maps H to H (so it
        #   can be applied again to its own output), `self.output_linear` maps H to D_out.
        self.input_linear = torch.nn.Linear(D_in, H)
        self.middle_linear = torch.nn.Linear(H, H)
        self.output_linear = torch.nn.Linear(H, D_out)
        ### END SOLUTION

    def forward(self, x):
        """Return `output_linear(h)`, where `h = relu(input_linear(x))` has then gone through
        `h = relu(middle_linear(h))` k times, with `k = random.randint(0, 3)`.

        Draw `k` exactly once per call, with Python's `random`. One draw is one choice of depth
        for the whole forward pass, and the grader reproduces it by seeding `random`.
        """
        # TODO: h = relu(input_linear(x)); k = random.randint(0, 3); k times: relu(middle_linear(h))
        ### BEGIN SOLUTION
        # hint forward: The graph is built anew at each call, so plain Python decides its shape:
        #   draw how many times to apply the middle layer, then loop.
        # hint forward: h = relu(input_linear(x)); draw k = random.randint(0, 3) once; k times, h =
        #   relu(middle_linear(h)); return output_linear(h).
        # hint forward if random_draws: Draw from Python's random exactly once per call: k =
        #   random.randint(0, 3) before the loop, then reuse k.
        # hint discipline: Weight sharing: the same middle layer is applied k times, so autograd
        #   adds up its gradient over every use.
        # hint discipline: Reuse `self.middle_linear` itself inside the loop; do not create layers
        #   in forward or keep a list of copies.
        # hint discipline if not_shared: The middle layer is not shared: apply the one
        #   `self.middle_linear` k times, without creating new layers.
        h_relu = self.input_linear(x).clamp(min=0)
        k = random.randint(0, 3)
        for _ in range(k):
            h_relu = self.middle_linear(h_relu).clamp(min=0)
        y_pred = self.output_linear(h_relu)
        return y_pred
        ### END SOLUTION


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
    ### BEGIN SOLUTION
    # hint train: The level-7 loop, with momentum: build the loss and the optimizer once, before
    #   the loop.
    # hint train: `torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)` and
    #   `torch.nn.MSELoss(reduction="sum")`.
    # hint train: Each iteration: y_pred = model(x) (one call: it draws its own depth); loss;
    #   record loss.item(); optimizer.zero_grad(); loss.backward(); optimizer.step().
    # hint train if loss_after_update: The first loss you returned is not the loss of the initial
    #   weights: record it before optimizer.step().
    # hint loss: The tutorial's loss sums the squared errors: MSELoss averages unless told
    #   otherwise.
    # hint loss: Build `torch.nn.MSELoss(reduction="sum")` once, before the loop.
    # hint loss if mean_loss: Your loss is the mean: pass `reduction="sum"` to MSELoss.
    # hint zero_grad: Gradients accumulate from one backward to the next (the shared middle layer
    #   even accumulates within one): reset them every iteration.
    # hint zero_grad: `optimizer.zero_grad()` before backward (or after step), never between
    #   backward and step.
    # hint zero_grad if no_zero_grad: Each step used the sum of all the gradients so far: call
    #   `optimizer.zero_grad()` every iteration.
    # hint zero_grad if zeroed_before_step: optimizer.step() ran on gradients already zeroed: zero
    #   before backward or after step, not between them.
    # hint step: Momentum keeps a running velocity inside the optimizer, so the optimizer has to
    #   live across iterations: build it once, step it every iteration after backward.
    # hint step: Inside the loop: zero_grad, backward, `optimizer.step()`; the optimizer is built
    #   before the loop.
    # hint step if optimizer_rebuilt: The optimizer's momentum was lost every step: you build a new
    #   SGD inside the loop. Build it once, before the loop.
    # hint step if no_step: The weights never changed: call `optimizer.step()` after backward.
    # hint step if ascent: The weights moved uphill: `optimizer.step()` already descends; do not
    #   negate the loss or the gradients.
    # hint step if step_before_backward: Each step used the previous iteration's gradients: step
    #   after this iteration's backward.
    # hint discipline: train must step through torch.optim.SGD built with the lr and the momentum
    #   it is given.
    # hint discipline if no_momentum: Your optimizer has no momentum: pass `momentum=momentum` to
    #   torch.optim.SGD.
    criterion = torch.nn.MSELoss(reduction="sum")
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
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
