"""Level 3: autograd computes the gradients, and you still write the updates.

**What changes from level 2.** The backward pass is no longer written by hand. The weights `w1`
and `w2` are created with `requires_grad=True`, so every operation on them is recorded in a
graph as the forward pass runs. `loss.backward()` then walks that graph backwards and stores
`d loss / d w` in each weight's `.grad`. The hand-written chain rule of levels 1 and 2 is gone,
and so is the need for `forward` to return `h`.

Two things are new, and both come from the way autograd works:

- **zero the gradients.** `.backward()` *adds* to `.grad` instead of overwriting it (this lets
  gradients from several losses or several uses of a tensor add up). Unless you reset `.grad`
  every iteration, each step would use the sum of all the gradients so far.
- **update without recording.** The update `w -= lr * w.grad` must not become part of the graph.
  Run it inside `with torch.no_grad():`, which keeps `w1` and `w2` leaf tensors that require a
  gradient.

The five stages of the loop:

1. **forward**: `y_pred = relu(x @ w1) @ w2`, recorded by autograd;
2. **loss**: the sum of squared errors, a 0-dim tensor in the graph;
3. **zero the gradients**: reset `w.grad` (here after the step, as the tutorial does; before
   the backward pass is just as correct);
4. **backward**: `loss.backward()`;
5. **step**: `w -= lr * w.grad` under `torch.no_grad()`.
"""
import torch


# The forward pass is the same computation as before, but autograd now records every operation
# on `w1` and `w2`, so it no longer needs to return `h`.
def forward(x, w1, w2):
    """Return `y_pred = relu(x @ w1) @ w2`, shape (N, D_out).

    Because `w1` and `w2` require a gradient, the result carries a `grad_fn`: the graph that
    `loss.backward()` will follow.
    """
    # TODO: return y_pred = relu(x @ w1) @ w2 (use .clamp(min=0) for the ReLU)
    # YOUR CODE HERE
    raise NotImplementedError("forward: see the TODO; stuck? hint(3, 'forward')")


# The loss: the sum of squared errors. It must stay a tensor in the graph, because
# `loss.backward()` starts from it.
def loss_fn(y_pred, y):
    """Return the sum of squared errors between `y_pred` and `y`, as a 0-dim tensor in the graph.

    Do not call `.item()` here. A Python float has no graph, so nothing could be
    differentiated from it.
    """
    # TODO: return the sum over all entries of (y_pred - y) ** 2, as a 0-dim tensor
    # YOUR CODE HERE
    raise NotImplementedError("loss_fn: see the TODO; stuck? hint(3, 'loss')")


# The backward pass is now one call. Autograd computes the gradient of the loss with respect to
# every leaf tensor that requires a gradient, and adds it to that tensor's `.grad`.
def backward(loss):
    """Compute the gradients of `loss` with respect to the parameters, into their `.grad`."""
    # TODO: let autograd compute the gradients of loss
    # YOUR CODE HERE
    raise NotImplementedError("backward: see the TODO; stuck? hint(3, 'backward')")


# The step is still written by hand, but it now has to run under `torch.no_grad()`.
def sgd_step(params, lr):
    """Update every parameter in place, `p -= lr * p.grad`, without recording the update.

    Without `torch.no_grad()`, autograd would record the update. It would also refuse to do it,
    because changing a leaf that requires a gradient in place would corrupt the graph that
    uses it. Under `no_grad` the weights stay leaf tensors that require a gradient, ready for
    the next forward pass.
    """
    # TODO: under torch.no_grad(), update each p in place: p -= lr * p.grad
    # YOUR CODE HERE
    raise NotImplementedError("sgd_step: see the TODO; stuck? hint(3, 'step')")


# Zeroing the gradients is the stage that autograd makes necessary.
def zero_grad(params):
    """Reset the gradient of every parameter, so that the next `.backward()` starts from zero.

    `.backward()` accumulates: it adds to `.grad` rather than replacing it. Either zeroing
    `p.grad` in place or setting it to `None` resets it. A parameter whose `.grad` is still
    `None` (no backward pass yet) has nothing to reset.
    """
    # TODO: for each p whose .grad is not None, reset it (p.grad.zero_() or p.grad = None)
    # YOUR CODE HERE
    raise NotImplementedError("zero_grad: see the TODO; stuck? hint(3, 'zero_grad')")


# The training loop: forward, loss, backward, step, and zero the gradients, as the classic
# tutorial orders them.
def train(x, y, w1, w2, lr, steps):
    """Run `steps` iterations of gradient descent on `w1` and `w2`, updating them in place.

    Return the loss of each iteration as a list of Python floats, each computed before that
    iteration's update. The gradients are zeroed after each update, so the next iteration's
    `.backward()` does not add to this one's.
    """
    # TODO: repeat `steps` times: forward, loss (record .item()), backward, sgd_step, zero_grad
    # YOUR CODE HERE
    raise NotImplementedError("train: see the TODO; stuck? hint(3, 'train')")


# Try it: this fits random data at the seed's sizes with the seed's schedule (lr=1e-6, 500
# steps) and prints the loss every 100 steps. The weights are created with `requires_grad=True`.
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
