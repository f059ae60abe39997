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
    ### BEGIN SOLUTION
    # hint forward: The same forward as before, minus h: autograd now remembers what the backward
    #   pass needs, as long as every step is a torch operation on w1 and w2.
    # hint forward: Keep the graph whole: no `.data`, `.detach()`, `.item()` or `.numpy()` on the
    #   way from w1 and w2 to y_pred. The ReLU is `.clamp(min=0)`.
    # hint forward: One line is enough: x times w1, clamped at 0, times w2.
    # hint forward if no_relu: Your y_pred is what you get without the ReLU: clamp x @ w1 at 0
    #   before multiplying by w2.
    # hint forward if not_in_graph: y_pred lost its link to w1 and w2 (no grad_fn): the computation
    #   left the graph through `.data`, `.detach()`, `.numpy()` or a tensor built from values.
    #   Compute it directly from the tensors you were given.
    h = x @ w1
    h_relu = h.clamp(min=0)
    y_pred = h_relu @ w2
    return y_pred
    ### END SOLUTION


# The loss: the sum of squared errors. It must stay a tensor in the graph, because
# `loss.backward()` starts from it.
def loss_fn(y_pred, y):
    """Return the sum of squared errors between `y_pred` and `y`, as a 0-dim tensor in the graph.

    Do not call `.item()` here. A Python float has no graph, so nothing could be
    differentiated from it.
    """
    # TODO: return the sum over all entries of (y_pred - y) ** 2, as a 0-dim tensor
    ### BEGIN SOLUTION
    # hint loss: The loss is where the backward pass starts, so it has to stay in the graph: a
    #   tensor, not a Python number.
    # hint loss: Sum of squared differences with torch operations, and no `.item()` here: train
    #   calls `.item()` only when it records the loss.
    # hint loss: The level-2 expression works unchanged: subtract, `.pow(2)`, `.sum()`.
    # hint loss if mean_loss: You averaged the squared errors; the tutorial's loss is their sum
    #   (`.sum()`), which also sets the scale of the learning rate.
    # hint loss if not_in_graph: Your loss is a Python float or has no grad_fn: `.item()` or
    #   `float(...)` makes a number that autograd cannot differentiate. Return the tensor.
    return (y_pred - y).pow(2).sum()
    ### END SOLUTION


# The backward pass is now one call. Autograd computes the gradient of the loss with respect to
# every leaf tensor that requires a gradient, and adds it to that tensor's `.grad`.
def backward(loss):
    """Compute the gradients of `loss` with respect to the parameters, into their `.grad`."""
    # TODO: let autograd compute the gradients of loss
    ### BEGIN SOLUTION
    # hint backward: Autograd recorded every operation from w1 and w2 to the loss. One method call
    #   on the loss walks that graph backwards and stores d loss / d w in each weight's `.grad`.
    # hint backward: The method is `.backward()`, called on the 0-dim loss; it returns nothing.
    #   Call it once: every call adds its gradients to `.grad`.
    # hint backward if backward_twice: The gradients came out doubled: backward ran twice on the
    #   same loss, and each call adds to `.grad`. Call it exactly once.
    # hint backward if no_backward: w.grad stayed None: nothing asked autograd for the gradients.
    #   Call the backward method of the loss tensor.
    loss.backward()
    ### END SOLUTION


# The step is still written by hand, but it now has to run under `torch.no_grad()`.
def sgd_step(params, lr):
    """Update every parameter in place, `p -= lr * p.grad`, without recording the update.

    Without `torch.no_grad()`, autograd would record the update. It would also refuse to do it,
    because changing a leaf that requires a gradient in place would corrupt the graph that
    uses it. Under `no_grad` the weights stay leaf tensors that require a gradient, ready for
    the next forward pass.
    """
    # TODO: under torch.no_grad(), update each p in place: p -= lr * p.grad
    ### BEGIN SOLUTION
    # hint step: The update is still p minus lr times its gradient, but autograd is watching: an
    #   update it recorded would become part of the next iteration's graph, and autograd refuses to
    #   change a leaf that requires grad in place.
    # hint step: Wrap the update in `with torch.no_grad():`: inside it nothing is recorded, and the
    #   in-place change keeps w1 and w2 leaf tensors that require grad.
    # hint step: Inside the no_grad block, loop over params and update each in place with `-=`,
    #   using `p.grad` as its gradient.
    # hint step if recorded_update: The update was recorded in the graph (or refused by autograd).
    #   Change the weights in place, and only inside `with torch.no_grad():`; `p = p - ...` would
    #   also replace your leaf with a new tensor.
    # hint step if ascent: Your update went uphill: it added the gradient. Descent subtracts lr ×
    #   p.grad.
    # hint step if not_in_place: The tensors the grader gave you did not change: rebinding `p`
    #   changes nothing for the caller. Update in place (`-=`) under no_grad.
    # hint step if no_step: The weights never changed during train: call sgd_step([w1, w2], lr) in
    #   every iteration, after backward.
    # hint step if step_before_backward: Each update used the previous iteration's gradients: step
    #   after this iteration's backward, not before it.
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
    ### END SOLUTION


# Zeroing the gradients is the stage that autograd makes necessary.
def zero_grad(params):
    """Reset the gradient of every parameter, so that the next `.backward()` starts from zero.

    `.backward()` accumulates: it adds to `.grad` rather than replacing it. Either zeroing
    `p.grad` in place or setting it to `None` resets it. A parameter whose `.grad` is still
    `None` (no backward pass yet) has nothing to reset.
    """
    # TODO: for each p whose .grad is not None, reset it (p.grad.zero_() or p.grad = None)
    ### BEGIN SOLUTION
    # hint zero_grad: `.backward()` adds its result to whatever `.grad` already holds (that is how
    #   gradients from several uses of a tensor add up). So between two iterations, something has
    #   to empty `.grad`.
    # hint zero_grad: For each parameter whose `.grad` is not None, reset it: zero it in place with
    #   `.zero_()`, or set `p.grad = None`. A `.grad` that is None needs nothing.
    # hint zero_grad: A loop over params, a test that skips a `.grad` that is still None, and one
    #   in-place call on `p.grad`.
    # hint zero_grad if grad_not_reset: After your zero_grad the gradients still held values.
    #   Assigning to a local name changes nothing: reset `p.grad` itself (`p.grad.zero_()` or
    #   `p.grad = None`).
    # hint zero_grad if no_zero_grad: Each step moved the weights by the sum of all the gradients
    #   so far: `.backward()` accumulates into `.grad`. Call zero_grad every iteration (after the
    #   step, or before backward).
    for p in params:
        if p.grad is not None:
            p.grad.zero_()
    ### END SOLUTION


# The training loop: forward, loss, backward, step, and zero the gradients, as the classic
# tutorial orders them.
def train(x, y, w1, w2, lr, steps):
    """Run `steps` iterations of gradient descent on `w1` and `w2`, updating them in place.

    Return the loss of each iteration as a list of Python floats, each computed before that
    iteration's update. The gradients are zeroed after each update, so the next iteration's
    `.backward()` does not add to this one's.
    """
    # TODO: repeat `steps` times: forward, loss (record .item()), backward, sgd_step, zero_grad
    ### BEGIN SOLUTION
    # hint train: The loop has five parts now: forward, loss, backward, step, and resetting the
    #   gradients.
    # hint train: Record `loss.item()` before the step. Zero the gradients after the step (or
    #   before backward), never between backward and step.
    # hint train: Each iteration: y_pred from forward, loss from loss_fn, append its `.item()`,
    #   backward(loss), sgd_step([w1, w2], lr), zero_grad([w1, w2]).
    # hint train if loss_after_update: The first loss you returned is not the loss of the initial
    #   weights: record `loss.item()` before the update.
    # hint discipline: At this level autograd computes the gradients: the loop must ask it to, not
    #   work them out by hand.
    # hint discipline: Call your backward(loss) (which calls `loss.backward()`) inside train, and
    #   step with `p.grad`.
    # hint discipline if no_backward: train never called `loss.backward()`: let autograd fill
    #   `.grad` through backward(loss) in every iteration.
    params = [w1, w2]
    losses = []
    for t in range(steps):
        y_pred = forward(x, w1, w2)
        loss = loss_fn(y_pred, y)
        losses.append(loss.item())
        backward(loss)
        sgd_step(params, lr)
        zero_grad(params)
    return losses
    ### END SOLUTION


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
