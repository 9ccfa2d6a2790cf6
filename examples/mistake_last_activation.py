"""An MLP that applies the activation after the last layer too.

    mlp-tui debug examples/mistake_last_activation.py

What the debugger should show: "layers[3] (ReLU) comes after the last layer: the output is
squashed before the loss". The scores that reach cross-entropy can never be negative, and a
unit whose score is cut to 0 passes no gradient back: training stalls.
"""

import torch


class Linear:
    def __init__(self, fan_in, fan_out):
        # Scale first, then make it a leaf that autograd fills the .grad of.
        self.W = (torch.randn(fan_in, fan_out) * 0.5).requires_grad_()  # (in, out)
        self.b = torch.zeros(fan_out).requires_grad_()  # (out,)

    def __call__(self, x):
        return x @ self.W + self.b  # (batch, in) @ (in, out) + (out,) -> (batch, out)

    def parameters(self):
        return [self.W, self.b]


class ReLU:
    def __call__(self, x):
        return torch.relu(x)


class MLP:
    def __init__(self, input_dim, hidden_dims, output_dim, activation):
        dims = [input_dim, *hidden_dims, output_dim]
        self.layers = []
        for i in range(len(dims) - 1):
            self.layers.append(Linear(dims[i], dims[i + 1]))
            self.layers.append(activation())  # BUG: also after the last layer

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [
            p for layer in self.layers if hasattr(layer, "parameters") for p in layer.parameters()
        ]


def cross_entropy(logits, y):
    return -logits.log_softmax(dim=1)[torch.arange(len(y)), y].mean()


class SGD:
    def __init__(self, params, lr):
        self.params = list(params)
        self.lr = lr

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        for p in self.params:
            if p.grad is not None:
                p -= self.lr * p.grad  # in place: p stays the same leaf


def xor(n=200):
    x = torch.rand(n, 2) * 2 - 1
    y = ((x[:, 0] > 0) != (x[:, 1] > 0)).long()  # class 1 where the signs differ
    return x, y


def make():
    torch.manual_seed(0)
    x, y = xor()
    model = MLP(2, [16], 2, ReLU)
    optimizer = SGD(model.parameters(), lr=0.5)
    return {"model": model, "loss_fn": cross_entropy, "optimizer": optimizer, "data": (x, y)}
