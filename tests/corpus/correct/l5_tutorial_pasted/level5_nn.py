"""Level 5, the tutorial's nn code pasted as-is: model.zero_grad() before the backward, the update
of every param under torch.no_grad()."""
import torch


def build_model(D_in, H, D_out):
    # Use the nn package to define our model as a sequence of layers. nn.Sequential
    # is a Module which contains other Modules, and applies them in sequence to
    # produce its output.
    model = torch.nn.Sequential(
        torch.nn.Linear(D_in, H),
        torch.nn.ReLU(),
        torch.nn.Linear(H, D_out),
    )
    return model


def build_loss():
    # The nn package also contains definitions of popular loss functions; in this
    # case we will use Mean Squared Error (MSE) as our loss function.
    loss_fn = torch.nn.MSELoss(reduction='sum')
    return loss_fn


def zero_grad(model):
    # Zero the gradients before running the backward pass.
    model.zero_grad()


def sgd_step(model, lr):
    # Update the weights using gradient descent. Each parameter is a Tensor, so
    # we can access its gradients like we did before.
    with torch.no_grad():
        for param in model.parameters():
            param -= lr * param.grad


def train(model, loss_fn, x, y, lr, steps):
    learning_rate = lr
    losses = []
    for t in range(steps):
        # Forward pass: compute predicted y by passing x to the model.
        y_pred = model(x)

        # Compute and print loss.
        loss = loss_fn(y_pred, y)
        if t % 100 == 99:
            print(t, loss.item())
        losses.append(loss.item())

        # Zero the gradients before running the backward pass.
        model.zero_grad()

        # Backward pass: compute gradient of the loss with respect to all the learnable
        # parameters of the model.
        loss.backward()

        # Update the weights using gradient descent.
        with torch.no_grad():
            for param in model.parameters():
                param -= learning_rate * param.grad
    return losses
