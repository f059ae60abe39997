"""Level 4, another correct style: the ReLU as input * mask, backward as grad_output * mask
(a new tensor, grad_output untouched), grads set to None before the backward."""
import torch


class MyReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return input * (input > 0).to(input.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        (input,) = ctx.saved_tensors
        return grad_output * (input > 0).to(grad_output.dtype)


def forward(x, w1, w2):
    return torch.matmul(MyReLU.apply(torch.matmul(x, w1)), w2)


def train(x, y, w1, w2, lr, steps):
    losses = []
    for t in range(steps):
        y_pred = forward(x, w1, w2)
        d = y_pred - y
        loss = (d * d).sum()
        losses.append(loss.item())
        w1.grad = None
        w2.grad = None
        loss.backward()
        with torch.no_grad():
            w1.sub_(lr * w1.grad)
            w2.sub_(lr * w2.grad)
    return losses
