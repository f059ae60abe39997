"""Level 2: the same network with torch tensors, gradients still worked out by hand.

**What changes from level 1.** The numpy arrays become torch tensors. A tensor is PyTorch's
n-dimensional array: it has a `dtype` (float32, float64, ...) and a `device` (the CPU or a GPU),
and the same code runs on either device. The numpy operations have direct counterparts:
`np.maximum(h, 0)` becomes `h.clamp(min=0)`, `a.T` becomes `a.t()` (or `a.T`) and `a.copy()`
becomes `a.clone()`. `loss_fn` now returns a 0-dim tensor rather than a float, and `train` turns
it into a Python float with `.item()`.

What does not change is the maths. You still write the backward pass yourself: autograd
(`requires_grad`, `.backward()`, `torch.autograd`) is not allowed at this level, and that is
the level's discipline check.

Keep the dtype and the device of the inputs. The grader calls your functions with float32 and
float64 tensors, on the CPU and on a GPU when there is one, and everything you return must
match what it passed in.

The five stages of the loop are the same as in level 1:

1. **forward**: `h = x @ w1`, then `y_pred = relu(h) @ w2`;
2. **loss**: the sum of squared errors, as a 0-dim tensor;
3. **zero the gradients**: still nothing to do, because `backward` returns fresh tensors;
4. **backward**: the chain rule by hand, written with tensor operations;
5. **step**: `w -= lr * grad_w`, in place.
"""
import torch


# The forward pass: hidden layer, ReLU, output layer. As in level 1, it also returns `h`, the
# hidden layer before the ReLU, because the backward pass needs it.
def forward(x, w1, w2):
    """Return `(y_pred, h)` for the batch `x`, as tensors of the inputs' dtype and device.

    `h = x @ w1` has shape (N, H) and `y_pred = relu(h) @ w2` has shape (N, D_out).
    `h.clamp(min=0)` is the tensor way to write `max(h, 0)`.
    """
    # TODO: compute h = x @ w1 (the pre-activation) and y_pred = relu(h) @ w2; return (y_pred, h)
    # YOUR CODE HERE
    raise NotImplementedError("forward: see the TODO; stuck? hint(2, 'forward')")


# The loss is the sum of squared errors, kept as a tensor. A 0-dim tensor stays on the device
# where it was computed, and turning it into a Python float (`.item()`) waits for the device
# to finish. That is why the conversion is left to the caller.
def loss_fn(y_pred, y):
    """Return the sum of squared errors between `y_pred` and `y`, as a 0-dim tensor."""
    # TODO: return the sum over all entries of (y_pred - y) ** 2, as a 0-dim tensor
    # YOUR CODE HERE
    raise NotImplementedError("loss_fn: see the TODO; stuck? hint(2, 'loss')")


# The backward pass, by hand: the same chain rule as in level 1, written with tensors.
def backward(x, h, w2, y_pred, y):
    """Return `(grad_w1, grad_w2)`, the gradients of `loss_fn(y_pred, y)` with respect to w1 and w2.

    This is the level 1 derivation: the gradient with respect to `y_pred` is `2 * (y_pred - y)`,
    each matrix product passes the gradient back through its transposed factor, and the ReLU
    blocks it where `h < 0`. Clone a tensor before you zero parts of it, so that you do not
    overwrite a value you still need. The results have the dtype and device of the inputs.
    """
    # TODO: grad_y_pred = 2 * (y_pred - y); then grad_w2, grad_h (0 where h < 0), grad_w1
    # YOUR CODE HERE
    raise NotImplementedError("backward: see the TODO; stuck? hint(2, 'backward')")


# The step: gradient descent, updating the weight tensors in place.
def sgd_step(params, grads, lr):
    """Update every tensor in `params` in place: `p -= lr * g` for each matching `g` in `grads`.

    The update is in place for the same reason as in level 1: the caller holds these very
    tensors, and `p = p - lr * g` would only rebind a local name.
    """
    # TODO: for each pair (p, g) of params and grads, update p in place: p -= lr * g
    # YOUR CODE HERE
    raise NotImplementedError("sgd_step: see the TODO; stuck? hint(2, 'step')")


# The training loop: the same stages as in level 1. The loss is recorded as a Python float.
def train(x, y, w1, w2, lr, steps):
    """Run `steps` iterations of gradient descent on `w1` and `w2`, updating them in place.

    Return the loss of each iteration as a list of Python floats (`loss.item()`), each computed
    before that iteration's update. As in level 1, no gradient needs zeroing: `backward`
    returns fresh tensors on every call.
    """
    # TODO: repeat `steps` times: forward, loss (record .item()), backward, sgd_step; return losses
    # YOUR CODE HERE
    raise NotImplementedError("train: see the TODO; stuck? hint(2, 'train')")


# Try it: this fits random data at the seed's sizes with the seed's schedule (lr=1e-6, 500
# steps), on a GPU if there is one, and prints the loss every 100 steps.
if __name__ == "__main__":
    N, D_in, H, D_out = 64, 1000, 100, 10
    dtype = torch.float
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    x = torch.randn(N, D_in, dtype=dtype, device=device)
    y = torch.randn(N, D_out, dtype=dtype, device=device)
    w1 = torch.randn(D_in, H, dtype=dtype, device=device)
    w2 = torch.randn(H, D_out, dtype=dtype, device=device)

    losses = train(x, y, w1, w2, lr=1e-6, steps=500)
    for t, loss in enumerate(losses):
        if t % 100 == 0 or t == len(losses) - 1:
            print(f"step {t:3d}  loss {loss:.4g}")
