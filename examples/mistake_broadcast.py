"""A regression whose target has shape (n,) while the model predicts (n, 1).

    mlp-tui debug examples/mistake_broadcast.py

What the debugger should show after the loss: "ŷ [200×1] and y [200] broadcast to
[200×200] in the loss: every prediction is compared with every target". No error is
raised: the loss is a number, it just is not the one meant, and the fit stays flat.
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


class Tanh:
    def __call__(self, x):
        return torch.tanh(x)


class MLP:
    def __init__(self, input_dim, hidden_dims, output_dim, activation):
        dims = [input_dim, *hidden_dims, output_dim]
        self.layers = []
        for i in range(len(dims) - 1):
            self.layers.append(Linear(dims[i], dims[i + 1]))
            if i < len(dims) - 2:  # no activation after the last layer: raw scores
                self.layers.append(activation())

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [
            p for layer in self.layers if hasattr(layer, "parameters") for p in layer.parameters()
        ]


def mse(pred, y):
    return ((pred - y) ** 2).mean()  # BUG: pred is (n, 1), y is (n,)


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


def wave(n=200):
    x = torch.rand(n, 2) * 2 - 1
    y = torch.sin(3 * x[:, 0]) * x[:, 1]  # (n,): one number per sample
    return x, y


def make():
    torch.manual_seed(0)
    x, y = wave()
    model = MLP(2, [16], 1, Tanh)
    optimizer = SGD(model.parameters(), lr=0.5)
    return {"model": model, "loss_fn": mse, "optimizer": optimizer, "data": (x, y)}
