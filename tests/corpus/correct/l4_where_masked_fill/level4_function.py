"""Level 4, another correct style: torch.where in MyReLU.forward, masked_fill (out of place) in
its backward, the gradient 1 at exactly 0, zero_grad before the backward, p.data updates."""
import torch


class MyReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return torch.where(input > 0, input, torch.zeros_like(input))

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        return grad_output.masked_fill(input < 0, 0.0)


def forward(x, w1, w2):
    h = x.mm(w1)
    return MyReLU.apply(h).mm(w2)


def train(x, y, w1, w2, lr, steps):
    losses = []
    for t in range(steps):
        loss = (forward(x, w1, w2) - y).pow(2).sum()
        losses.append(loss.item())
        for w in (w1, w2):
            if w.grad is not None:
                w.grad.zero_()
        loss.backward()
        w1.data -= lr * w1.grad
        w2.data -= lr * w2.grad
    return losses
