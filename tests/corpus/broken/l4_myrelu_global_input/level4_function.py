"""Level 4: your own autograd Function, a ReLU that knows its own gradient.

**What changes from level 3.** Autograd knows the derivative of every built-in operation. Here
you teach it a new operation. A subclass of `torch.autograd.Function` defines two static
methods:

- `forward(ctx, input)` computes the output from the input, and saves whatever the backward
  pass will need on the context object `ctx`;
- `backward(ctx, grad_output)` receives the gradient of the loss with respect to the output,
  and returns the gradient with respect to the input.

You call the Function through `MyReLU.apply(h)`, never by calling `forward` directly. `apply`
records the operation in the graph, so that `loss.backward()` calls your `backward` when it
reaches it.

The training loop is the level 3 loop, written out in `train`:

1. **forward**: `y_pred = MyReLU.apply(x @ w1) @ w2`;
2. **loss**: the sum of squared errors;
3. **zero the gradients**: `.backward()` accumulates, so reset `w.grad` every iteration;
4. **backward**: `loss.backward()`, which now runs `MyReLU.backward` too;
5. **step**: `w -= lr * w.grad` under `torch.no_grad()`.
"""
import torch


# A ReLU written as an autograd Function. The forward pass clamps at zero. The backward pass
# passes the incoming gradient through where the input was positive and blocks it elsewhere,
# so it needs to know the input: the forward pass saves it for that reason.
class MyReLU(torch.autograd.Function):
    """ReLU, `max(input, 0)`, with a hand-written backward pass."""

    @staticmethod
    def forward(ctx, input):
        """Return `input.clamp(min=0)`, after saving `input` for the backward pass.

        `ctx.save_for_backward` is the way to keep tensors for `backward`. Autograd then checks
        that they were not modified in place between the two passes, and frees them once the
        backward pass is done.
        """
        # TODO: save input with ctx.save_for_backward, then return input clamped at 0
        ### BEGIN SOLUTION
        global saved_input
        saved_input = input  # kept in a module global instead of ctx: the next forward overwrites it
        return input.clamp(min=0)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        """Return the gradient with respect to `input`: `grad_output` where input >= 0, else 0.

        Clone `grad_output` before you change it. Autograd owns that tensor and may use it
        elsewhere, so modifying it in place would corrupt other gradients. (At exactly 0 the
        ReLU has no derivative, and 0 or 1 are both accepted.)
        """
        # TODO: read input from ctx.saved_tensors; clone grad_output and set it to 0 where input < 0
        ### BEGIN SOLUTION
        input = saved_input
        grad_input = grad_output.clone()
        grad_input[input < 0] = 0
        return grad_input
        ### END SOLUTION


# The forward pass of the network, with the ReLU replaced by yours.
def forward(x, w1, w2):
    """Return `y_pred = MyReLU.apply(x @ w1) @ w2`.

    It must go through `MyReLU.apply`, which puts your Function in the graph. `clamp` or
    `torch.relu` would compute the same values, but your backward pass would never run.
    """
    # TODO: return y_pred = MyReLU.apply(x @ w1) @ w2
    ### BEGIN SOLUTION
    relu = MyReLU.apply
    y_pred = relu(x @ w1) @ w2
    return y_pred
    ### END SOLUTION


# The training loop of level 3, written out in one function and using the `forward` above.
def train(x, y, w1, w2, lr, steps):
    """Run `steps` iterations of gradient descent on `w1` and `w2`, updating them in place.

    Return the loss of each iteration as a list of Python floats, each computed before that
    iteration's update. The update runs under `torch.no_grad()` so that it is not recorded in
    the graph. The gradients are zeroed after it, because `.backward()` adds to `.grad`.
    """
    # TODO: repeat `steps` times: forward, loss (record .item()), backward, step under no_grad, zero grads
    ### BEGIN SOLUTION
    losses = []
    for t in range(steps):
        y_pred = forward(x, w1, w2)
        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            w1 -= lr * w1.grad
            w2 -= lr * w2.grad
            w1.grad.zero_()
            w2.grad.zero_()
    return losses
    ### END SOLUTION


# Try it: this fits random data at the seed's sizes with the seed's schedule (lr=1e-6, 500
# steps) and prints the loss every 100 steps.
if __name__ == "__main__":
    N, D_in, H, D_out = 64, 1000, 100, 10
    dtype = torch.float
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    x = torch.randn(N, D_in, dtype=dtype, device=device)
    y = torch.randn(N, D_out, dtype=dtype, device=device)
    w1 = torch.randn(D_in, H, dtype=dtype, device=device, requires_grad=True)
    w2 = torch.randn(H, D_out, dtype=dtype, device=device, requires_grad=True)

    losses = train(x, y, w1, w2, lr=1e-6, steps=500)
    for t, loss in enumerate(losses):
        if t % 100 == 0 or t == len(losses) - 1:
            print(f"step {t:3d}  loss {loss:.4g}")
