"""A zero_grad() that does nothing.

    mlp-tui debug examples/mistake_zero_grad.py

What the debugger should show from the second step on: "zero_grad() ran but left .grad as it
was": backward() adds each batch's gradient onto the last one (.grad after = before +
contribution), so the steps grow and the loss wobbles instead of falling smoothly.
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


def cross_entropy(logits, y):
    return -logits.log_softmax(dim=1)[torch.arange(len(y)), y].mean()


class SGD:
    def __init__(self, params, lr):
        self.params = list(params)
        self.lr = lr

    def zero_grad(self):
        for p in self.params:
            g = p.grad
            g = None  # BUG: rebinds a local name; p.grad keeps its value  # noqa: F841

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
    model = MLP(2, [16], 2, Tanh)
    optimizer = SGD(model.parameters(), lr=0.5)
    return {"model": model, "loss_fn": cross_entropy, "optimizer": optimizer, "data": (x, y)}
