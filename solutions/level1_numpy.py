"""Level 1: a two-layer network in numpy, with every gradient worked out by hand.

All eight levels of this kit train the same network, the one from the classic tutorial
"Learning PyTorch with Examples": a two-layer ReLU network without biases, fitted to random
data. `x` holds `N` examples of `D_in` features, `y` holds `N` targets of `D_out` values, and
the hidden layer has `H` units (the seed uses N=64, D_in=1000, H=100, D_out=10). The data is
random, so there is nothing to learn in the usual sense: the network memorises it, and the loss
falls by orders of magnitude.

At this level nothing is done for you. The arrays are numpy arrays (float64), and you write both
the forward pass and its gradients. Each later level hands one more of these jobs to PyTorch.

Every training loop in this kit has five stages:

1. **forward**: compute the prediction `y_pred` from `x` and the weights;
2. **loss**: measure how far `y_pred` is from `y` (the sum of squared errors);
3. **zero the gradients**: nothing to do at this level. `backward` returns new arrays on every
   call, so nothing is left over from the previous iteration;
4. **backward**: compute the gradient of the loss with respect to each weight, using the chain
   rule;
5. **step**: move each weight a little against its gradient, `w -= lr * grad_w`.

Use numpy only. Importing torch fails this level's discipline check.
"""
import numpy as np


# The forward pass goes through the hidden layer (`h = x @ w1`), the ReLU (`max(h, 0)`) and
# the output layer. It returns `h` as well as the prediction, because the backward pass needs
# it: the ReLU passes a gradient back only where `h` was positive.
def forward(x, w1, w2):
    """Return `(y_pred, h)` for the batch `x`.

    `x` is (N, D_in), `w1` is (D_in, H) and `w2` is (H, D_out). `h = x @ w1` is the hidden
    layer before the ReLU, shape (N, H). `y_pred = relu(h) @ w2` has shape (N, D_out).
    """
    # TODO: compute h = x @ w1 (the pre-activation) and y_pred = relu(h) @ w2; return (y_pred, h)
    ### BEGIN SOLUTION
    # hint forward: Two matrix products with a ReLU between them. Before you write anything, ask
    #   which of the two intermediate arrays backward will need: the one before the ReLU or the one
    #   after?
    # hint forward: `@` multiplies matrices: x (N, D_in) @ w1 (D_in, H) gives h, shape (N, H). The
    #   ReLU keeps the positive entries and replaces the negative ones by 0; numpy's elementwise
    #   `np.maximum(array, 0)` does that.
    # hint forward: Compute h from x and w1; apply the ReLU into a new variable (h itself keeps its
    #   negative entries); multiply that by w2; return the pair (y_pred, h).
    # hint forward if no_relu: Your y_pred is what you get without the ReLU: the negative
    #   pre-activations went straight through. Put `np.maximum(..., 0)` between the two products.
    # hint forward if h_after_relu: You returned h after the ReLU. backward needs the
    #   pre-activation to know where the ReLU was flat (where h < 0): return x @ w1 itself, and
    #   keep its ReLU in a separate variable.
    # hint forward if transposed: A shape came out reversed. Follow the shapes: (N, D_in) @ (D_in,
    #   H) is (N, H), and (N, H) @ (H, D_out) is (N, D_out). The forward pass needs no transpose.
    # hint discipline: This level is about seeing every number with plain arrays, so the module may
    #   use numpy only: no torch anywhere in it.
    # hint discipline: Look for `import torch` or `from torch import ...`, also inside functions,
    #   and replace what you used from torch by numpy (`np.maximum`, `@`, `.sum()`, `.T`).
    # hint discipline if torch_at_numpy_level: The check found torch in your numpy level. Every
    #   operation here has a numpy form: remove the torch import and return numpy arrays.
    h = x @ w1
    h_relu = np.maximum(h, 0)
    y_pred = h_relu @ w2
    return y_pred, h
    ### END SOLUTION


# The loss is the sum of squared errors over every entry of the batch. It is one number, and
# the whole of training comes down to making it small.
def loss_fn(y_pred, y):
    """Return the sum of squared errors between `y_pred` and `y`, as a Python float.

    The tutorial takes the sum rather than the mean, so the loss grows with the batch. That is
    why its learning rate is as small as 1e-6.
    """
    # TODO: return the sum over all entries of (y_pred - y) ** 2, as a Python float
    ### BEGIN SOLUTION
    # hint loss: The loss is one number that says how far y_pred is from y: square every
    #   difference, then add them all up.
    # hint loss: Sum, not mean: the tutorial uses the sum of squared errors, and its learning rate
    #   1e-6 is sized for it. `.sum()` with no axis adds every entry of an array.
    # hint loss: Return a Python float: wrap the numpy result in `float(...)`, e.g. float of the
    #   sum of `np.square` of the difference.
    # hint loss if mean_loss: You averaged the squared errors. The tutorial's loss is their sum;
    #   the mean divides every gradient by N·D_out too, so the loop would crawl.
    return float(np.square(y_pred - y).sum())
    ### END SOLUTION


# The backward pass applies the chain rule from the loss back to each weight. It reuses the
# values the forward pass computed (`h` and `y_pred`) rather than recomputing them.
def backward(x, h, w2, y_pred, y):
    """Return `(grad_w1, grad_w2)`, the gradients of `loss_fn(y_pred, y)`, shaped like w1 and w2.

    Work backwards through the forward pass. The loss's gradient with respect to `y_pred` is
    `2 * (y_pred - y)`. Multiplying by `w2` gives the gradients of `w2` and of `relu(h)`. The
    ReLU lets that gradient through where `h > 0` and blocks it elsewhere. Multiplying by `w1`
    then gives the gradient of `w1`. Each matrix product's gradient is another matrix product
    with one factor transposed, and the shapes tell you which one.

    Every call returns new arrays computed from this step's values alone. That is why the numpy
    loop has no "zero the gradients" stage: there is no stored gradient to reset.
    """
    # TODO: grad_y_pred = 2 * (y_pred - y); then grad_w2, grad_h (0 where h < 0), grad_w1
    ### BEGIN SOLUTION
    # hint backward: Walk forward's steps in reverse with the chain rule, one at a time: start from
    #   d loss / d y_pred, then go back through `@ w2`, through the ReLU, and through `x @ w1`.
    # hint backward: d/dy_pred of (y_pred - y)² is 2·(y_pred - y). For a product `a @ b` with
    #   upstream gradient g, the gradient for a is `g @ b.T` and for b it is `a.T @ g`. A gradient
    #   always has the shape of what it differentiates (grad_w1 like w1).
    # hint backward: The ReLU passes the gradient where its input was positive and blocks it where
    #   h < 0: copy the gradient of relu(h) and set its entries to 0 where h < 0 (boolean indexing,
    #   `g[mask] = 0`).
    # hint backward: In order: grad_y_pred; grad_w2 from relu(h).T and grad_y_pred; the gradient of
    #   relu(h) from grad_y_pred and w2.T; a copy of it zeroed where h < 0 is grad_h; grad_w1 from
    #   x.T and grad_h.
    # hint backward if half_gradient: Your gradients are exactly half the reference: the derivative
    #   of (y_pred - y)² is 2·(y_pred - y). Keep the 2.
    # hint backward if transposed: A gradient came out transposed. grad_w1 has w1's shape (D_in, H)
    #   and grad_w2 has w2's (H, D_out): move the `.T` to the other factor of the product.
    grad_y_pred = 2.0 * (y_pred - y)
    h_relu = np.maximum(h, 0)
    grad_w2 = h_relu.T @ grad_y_pred
    grad_h_relu = grad_y_pred @ w2.T
    grad_h = grad_h_relu.copy()
    grad_h[h < 0] = 0
    grad_w1 = x.T @ grad_h
    return grad_w1, grad_w2
    ### END SOLUTION


# The step moves each weight a small distance against its gradient: plain gradient descent.
def sgd_step(params, grads, lr):
    """Update every array in `params` in place: `p -= lr * g` for each matching `g` in `grads`.

    The update has to be in place. `train` and its caller hold references to these very arrays,
    and `p = p - lr * g` would only rebind a local name, leaving their weights unchanged.
    """
    # TODO: for each pair (p, g) of params and grads, update p in place: p -= lr * g
    ### BEGIN SOLUTION
    # hint step: Gradient descent moves each weight a small step against its gradient: new weight =
    #   old weight - lr × gradient.
    # hint step: The caller keeps its arrays and reads them after the call, so change them in
    #   place: `p -= ...` writes into the array, while `p = p - ...` only rebinds your local name.
    # hint step: Loop over params and grads together with `zip`, and update each p in place by lr
    #   times its g.
    # hint step if ascent: Your update went uphill: it added the gradient. Descent subtracts lr ×
    #   gradient, so the loss falls.
    # hint step if not_in_place: The arrays the grader gave you did not change: `p = p - lr * g`
    #   makes a new array and only rebinds a local name. Use an in-place operator such as `-=`.
    # hint step if no_step: The weights never changed during train: call sgd_step on both weights
    #   with both gradients in every iteration.
    # hint step if step_before_backward: Each update used the previous iteration's gradients:
    #   inside one iteration, compute this iteration's gradients first, then step with them.
    for p, g in zip(params, grads):
        p -= lr * g
    ### END SOLUTION


# The training loop puts the stages together and repeats them.
def train(x, y, w1, w2, lr, steps):
    """Run `steps` iterations of gradient descent on `w1` and `w2`, updating them in place.

    Return the loss of each iteration as a list of Python floats. Each loss is computed before
    that iteration's update, so `losses[0]` is the loss of the initial weights. No gradient
    needs zeroing, because `backward` returns fresh arrays on every call.
    """
    # TODO: repeat `steps` times: forward, record loss_fn, backward, sgd_step; return the losses
    ### BEGIN SOLUTION
    # hint train: One iteration is the four stages in order: forward, loss, backward, step. Repeat
    #   it `steps` times and keep every loss.
    # hint train: Record each loss before that iteration's update: it is the loss of the weights
    #   the iteration started from. Return all of them as a list of floats.
    # hint train: In a loop over `range(steps)`, call forward, append loss_fn's value to a list,
    #   get both gradients from backward (it takes x, h, w2, y_pred, y), then sgd_step on [w1, w2]
    #   with them.
    # hint train if loss_after_update: The first loss you returned is not the loss of the initial
    #   weights: compute and record the loss before calling sgd_step.
    losses = []
    for t in range(steps):
        y_pred, h = forward(x, w1, w2)
        losses.append(loss_fn(y_pred, y))
        grad_w1, grad_w2 = backward(x, h, w2, y_pred, y)
        sgd_step([w1, w2], [grad_w1, grad_w2], lr)
    return losses
    ### END SOLUTION


# Try it: this fits random data at the seed's sizes with the seed's schedule (lr=1e-6, 500
# steps) and prints the loss every 100 steps. The loss should fall by orders of magnitude.
if __name__ == "__main__":
    N, D_in, H, D_out = 64, 1000, 100, 10
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, D_in))
    y = rng.standard_normal((N, D_out))
    w1 = rng.standard_normal((D_in, H))
    w2 = rng.standard_normal((H, D_out))

    losses = train(x, y, w1, w2, lr=1e-6, steps=500)
    for t, loss in enumerate(losses):
        if t % 100 == 0 or t == len(losses) - 1:
            print(f"step {t:3d}  loss {loss:.4g}")
