"""An optimizer that replaces each layer's attribute instead of updating it in place.

    mlp-tui debug examples/mistake_step_attribute.py

What the debugger should show after the first step: "layers[0].W was replaced by a new
tensor": the model no longer uses the leaf the debugger (and autograd) tracks. Under
torch.no_grad() the new tensor does not even require grad, so the next backward() fails:
the debugger pauses there and names the error and the phase.
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
    def __init__(self, model, lr):
        self.model = model
        self.lr = lr

    def zero_grad(self):
        for p in self.model.parameters():
            p.grad = None

    @torch.no_grad()
    def step(self):
        for layer in self.model.layers:
            if hasattr(layer, "W"):
                layer.W = layer.W - self.lr * layer.W.grad  # BUG: a new tensor, not a leaf
                layer.b = layer.b - self.lr * layer.b.grad


def xor(n=200):
    x = torch.rand(n, 2) * 2 - 1
    y = ((x[:, 0] > 0) != (x[:, 1] > 0)).long()  # class 1 where the signs differ
    return x, y


def make():
    torch.manual_seed(0)
    x, y = xor()
    model = MLP(2, [16], 2, Tanh)
    optimizer = SGD(model, lr=0.5)
    return {"model": model, "loss_fn": cross_entropy, "optimizer": optimizer, "data": (x, y)}
