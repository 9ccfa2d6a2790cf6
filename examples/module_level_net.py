"""A script-style file: its objects at module level (no make()), and a momentum optimizer
of its own that keeps a velocity per parameter.

    mlp-tui debug examples/module_level_net.py

What the debugger should show after step: each Δ, and "rule of Momentum unknown": it keeps
state, so no rule is assumed, and Δ is shown, not checked. No mistake is named. `b` goes
back through the history it copied (the velocities included, found in the optimizer's
attributes); `r` restores the state the file left, since there is no make() to call again.
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


class Momentum:
    def __init__(self, params, lr, beta=0.9):
        self.params = list(params)
        self.lr, self.beta = lr, beta
        self.velocity = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        for p, v in zip(self.params, self.velocity, strict=True):
            v.mul_(self.beta).add_(p.grad)  # v = beta * v + g
            p -= self.lr * v


def xor(n=200):
    x = torch.rand(n, 2) * 2 - 1
    y = ((x[:, 0] > 0) != (x[:, 1] > 0)).long()  # class 1 where the signs differ
    return x, y


torch.manual_seed(0)
x, y = xor()
model = MLP(2, [16], 2, Tanh)
loss_fn = cross_entropy
optimizer = Momentum(model.parameters(), lr=0.1)
data = (x, y)
