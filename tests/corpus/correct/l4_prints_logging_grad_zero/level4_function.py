"""Level 4, prints and logging inside MyReLU's passes and the loop, p.grad.zero_() after the step."""
import logging

import torch

logger = logging.getLogger(__name__)


class MyReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        print(f"MyReLU.forward: {input.shape}, {(input < 0).sum().item()} negatives, max {float(input.max()):.3f}")
        return input.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        print("MyReLU.backward:", grad_output.abs().sum().item(), grad_output.cpu().numpy().shape)
        logger.warning("backward through %d entries", input.numel())
        grad_input = grad_output.clone()
        grad_input[input < 0] = 0
        return grad_input


def forward(x, w1, w2):
    y_pred = MyReLU.apply(x.mm(w1)).mm(w2)
    print("y_pred", y_pred[0, :2].tolist())
    return y_pred


def train(x, y, w1, w2, lr, steps):
    losses = []
    for t in range(steps):
        y_pred = forward(x, w1, w2)
        loss = (y_pred - y).pow(2).sum()
        print(t, loss.item())
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            w1 -= lr * w1.grad
            w2 -= lr * w2.grad
            w1.grad.zero_()
            w2.grad.zero_()
    return losses
