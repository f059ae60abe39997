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
    # YOUR CODE HERE
    raise NotImplementedError("forward: see the TODO; stuck? hint(1, 'forward')")


# The loss is the sum of squared errors over every entry of the batch. It is one number, and
# the whole of training comes down to making it small.
def loss_fn(y_pred, y):
    """Return the sum of squared errors between `y_pred` and `y`, as a Python float.

    The tutorial takes the sum rather than the mean, so the loss grows with the batch. That is
    why its learning rate is as small as 1e-6.
    """
    # TODO: return the sum over all entries of (y_pred - y) ** 2, as a Python float
    # YOUR CODE HERE
    raise NotImplementedError("loss_fn: see the TODO; stuck? hint(1, 'loss')")


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
    # YOUR CODE HERE
    raise NotImplementedError("backward: see the TODO; stuck? hint(1, 'backward')")


# The step moves each weight a small distance against its gradient: plain gradient descent.
def sgd_step(params, grads, lr):
    """Update every array in `params` in place: `p -= lr * g` for each matching `g` in `grads`.

    The update has to be in place. `train` and its caller hold references to these very arrays,
    and `p = p - lr * g` would only rebind a local name, leaving their weights unchanged.
    """
    # TODO: for each pair (p, g) of params and grads, update p in place: p -= lr * g
    # YOUR CODE HERE
    raise NotImplementedError("sgd_step: see the TODO; stuck? hint(1, 'step')")


# The training loop puts the stages together and repeats them.
def train(x, y, w1, w2, lr, steps):
    """Run `steps` iterations of gradient descent on `w1` and `w2`, updating them in place.

    Return the loss of each iteration as a list of Python floats. Each loss is computed before
    that iteration's update, so `losses[0]` is the loss of the initial weights. No gradient
    needs zeroing, because `backward` returns fresh arrays on every call.
    """
    # TODO: repeat `steps` times: forward, record loss_fn, backward, sgd_step; return the losses
    # YOUR CODE HERE
    raise NotImplementedError("train: see the TODO; stuck? hint(1, 'train')")


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
