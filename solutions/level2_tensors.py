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
    ### BEGIN SOLUTION
    # hint forward: The same two products and ReLU as at the numpy level, now with torch tensors.
    #   Keep h, the pre-activation: backward still needs it.
    # hint forward: `@` works on tensors too. For the ReLU, `tensor.clamp(min=0)` returns a new
    #   tensor with the negative entries replaced by 0, on the same device and with the same dtype.
    # hint forward: h from x and w1; its clamped copy times w2 is y_pred; return (y_pred, h) with h
    #   not clamped.
    # hint forward if no_relu: Your y_pred is what you get without the ReLU: clamp the
    #   pre-activation at 0 (`.clamp(min=0)`) before multiplying by w2.
    # hint forward if h_after_relu: You returned h after the ReLU; backward needs the
    #   pre-activation to know where h < 0. Return x @ w1 itself and keep its clamped copy in
    #   another variable.
    # hint forward if wrong_device: A tensor ended up on another device than the inputs. Everything
    #   in forward can come from the inputs, so it stays where they are: avoid `torch.tensor(...)`,
    #   `.numpy()` and `.cpu()` here.
    h = x @ w1
    h_relu = h.clamp(min=0)
    y_pred = h_relu @ w2
    return y_pred, h
    ### END SOLUTION


# The loss is the sum of squared errors, kept as a tensor. A 0-dim tensor stays on the device
# where it was computed, and turning it into a Python float (`.item()`) waits for the device
# to finish. That is why the conversion is left to the caller.
def loss_fn(y_pred, y):
    """Return the sum of squared errors between `y_pred` and `y`, as a 0-dim tensor."""
    # TODO: return the sum over all entries of (y_pred - y) ** 2, as a 0-dim tensor
    ### BEGIN SOLUTION
    # hint loss: As at the numpy level: square the differences and add them all up; this time
    #   return the 0-dim tensor itself.
    # hint loss: `.sum()` with no dimension adds every entry and gives a 0-dim tensor. Sum, not
    #   mean: the learning rate is sized for the sum.
    # hint loss: One expression: subtract, square with `.pow(2)` (or `** 2`), sum. The loop calls
    #   `.item()` on the result when it records it.
    # hint loss if mean_loss: You averaged the squared errors. The tutorial's loss is their sum:
    #   use `.sum()`, not `.mean()`.
    return (y_pred - y).pow(2).sum()
    ### END SOLUTION


# The backward pass, by hand: the same chain rule as in level 1, written with tensors.
def backward(x, h, w2, y_pred, y):
    """Return `(grad_w1, grad_w2)`, the gradients of `loss_fn(y_pred, y)` with respect to w1 and w2.

    This is the level 1 derivation: the gradient with respect to `y_pred` is `2 * (y_pred - y)`,
    each matrix product passes the gradient back through its transposed factor, and the ReLU
    blocks it where `h < 0`. Clone a tensor before you zero parts of it, so that you do not
    overwrite a value you still need. The results have the dtype and device of the inputs.
    """
    # TODO: grad_y_pred = 2 * (y_pred - y); then grad_w2, grad_h (0 where h < 0), grad_w1
    ### BEGIN SOLUTION
    # hint backward: The chain rule by hand, exactly as at the numpy level: from d loss / d y_pred
    #   back through `@ w2`, the ReLU and `x @ w1`, with torch operations.
    # hint backward: Translate your numpy backward: `.t()` (or `.T`) transposes, `.clone()` copies
    #   a tensor (numpy's `.copy()`), and boolean indexing `g[h < 0] = 0` works the same.
    # hint backward: grad_y_pred = 2·(y_pred - y); grad_w2 from the clamped h transposed and
    #   grad_y_pred; grad_h is grad_y_pred @ w2.t() cloned and zeroed where h < 0; grad_w1 from
    #   x.t() and grad_h.
    # hint backward if half_gradient: Your gradients are exactly half the reference: the derivative
    #   of (y_pred - y)² is 2·(y_pred - y). Keep the 2.
    # hint backward if wrong_dtype: A gradient has another dtype than the inputs: build new tensors
    #   from the inputs (`.clone()`, `torch.zeros_like(h)`), so float64 inputs give float64
    #   gradients.
    # hint discipline: This level computes every gradient by hand, as the numpy level did: autograd
    #   stays off, so no `requires_grad`, no `.backward()`, no `torch.autograd`.
    # hint discipline: If you reached for autograd to get the gradients, write them out instead:
    #   the chain rule through the two products and the ReLU (see the backward hints).
    # hint discipline if autograd_by_hand_level: The check saw autograd at the tensors level.
    #   Remove `requires_grad`, `.backward()` and `torch.autograd` and compute grad_w1 and grad_w2
    #   yourself.
    grad_y_pred = 2.0 * (y_pred - y)
    h_relu = h.clamp(min=0)
    grad_w2 = h_relu.t() @ grad_y_pred
    grad_h_relu = grad_y_pred @ w2.t()
    grad_h = grad_h_relu.clone()
    grad_h[h < 0] = 0
    grad_w1 = x.t() @ grad_h
    return grad_w1, grad_w2
    ### END SOLUTION


# The step: gradient descent, updating the weight tensors in place.
def sgd_step(params, grads, lr):
    """Update every tensor in `params` in place: `p -= lr * g` for each matching `g` in `grads`.

    The update is in place for the same reason as in level 1: the caller holds these very
    tensors, and `p = p - lr * g` would only rebind a local name.
    """
    # TODO: for each pair (p, g) of params and grads, update p in place: p -= lr * g
    ### BEGIN SOLUTION
    # hint step: Gradient descent moves each weight a small step against its gradient: new weight =
    #   old weight - lr × gradient.
    # hint step: Change the caller's tensors in place: `p -= ...` writes into the tensor, while `p
    #   = p - ...` only rebinds a local name.
    # hint step: Loop over params and grads together with `zip`, and update each p in place by lr
    #   times its g.
    # hint step if ascent: Your update went uphill: it added the gradient. Descent subtracts lr ×
    #   gradient.
    # hint step if not_in_place: The tensors the grader gave you did not change: `p = p - lr * g`
    #   only rebinds a local name. Use `-=` (or `p.sub_(...)`).
    # hint step if no_step: The weights never changed during train: call sgd_step on both weights
    #   with both gradients in every iteration.
    # hint step if step_before_backward: Each update used the previous iteration's gradients:
    #   compute this iteration's gradients first, then step with them.
    for p, g in zip(params, grads):
        p -= lr * g
    ### END SOLUTION


# The training loop: the same stages as in level 1. The loss is recorded as a Python float.
def train(x, y, w1, w2, lr, steps):
    """Run `steps` iterations of gradient descent on `w1` and `w2`, updating them in place.

    Return the loss of each iteration as a list of Python floats (`loss.item()`), each computed
    before that iteration's update. As in level 1, no gradient needs zeroing: `backward`
    returns fresh tensors on every call.
    """
    # TODO: repeat `steps` times: forward, loss (record .item()), backward, sgd_step; return losses
    ### BEGIN SOLUTION
    # hint train: One iteration: forward, loss, backward, step; repeat it `steps` times and keep
    #   each loss.
    # hint train: Record the loss before the update, as a Python float: `.item()` turns the 0-dim
    #   tensor into one.
    # hint train: In a loop over `range(steps)`, call forward, append loss_fn(...).item(), get both
    #   gradients from backward, then sgd_step on [w1, w2] with them; return the list.
    # hint train if loss_after_update: The first loss you returned is not the loss of the initial
    #   weights: record the loss before calling sgd_step.
    losses = []
    for t in range(steps):
        y_pred, h = forward(x, w1, w2)
        losses.append(loss_fn(y_pred, y).item())
        grad_w1, grad_w2 = backward(x, h, w2, y_pred, y)
        sgd_step([w1, w2], [grad_w1, grad_w2], lr)
    return losses
    ### END SOLUTION


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
