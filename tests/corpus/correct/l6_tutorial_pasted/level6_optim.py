"""Level 6, the tutorial's optim loop pasted as-is."""
import torch


def build_optimizer(model, lr):
    # Use the optim package to define an Optimizer that will update the weights of
    # the model for us. Here we will use Adam.
    learning_rate = lr
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    return optimizer


def train(model, loss_fn, optimizer, x, y, steps):
    losses = []
    for t in range(steps):
        # Forward pass: compute predicted y by passing x to the model.
        y_pred = model(x)

        # Compute and print loss.
        loss = loss_fn(y_pred, y)
        if t % 100 == 99:
            print(t, loss.item())
        losses.append(loss.item())

        # Before the backward pass, use the optimizer object to zero all of the
        # gradients for the variables it will update (which are the learnable
        # weights of the model).
        optimizer.zero_grad()

        # Backward pass: compute gradient of the loss with respect to model
        # parameters
        loss.backward()

        # Calling the step function on an Optimizer makes an update to its
        # parameters
        optimizer.step()
    return losses
