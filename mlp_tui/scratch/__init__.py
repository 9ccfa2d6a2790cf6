"""The network from scratch: layers, activations, the MLP, losses and optimizers.

Torch tensors and autograd only: no ``torch.nn.Module``, no ``torch.optim``.
"""

from mlp_tui.scratch.losses import binary_cross_entropy_with_logits, cross_entropy, mse_loss
from mlp_tui.scratch.nn import INITS, MLP, Identity, LeakyReLU, Linear, ReLU, Sigmoid, Tanh
from mlp_tui.scratch.optim import SGD, Adam, AdamW, Optimizer, RMSprop

__all__ = [
    "INITS",
    "MLP",
    "SGD",
    "Adam",
    "AdamW",
    "Identity",
    "LeakyReLU",
    "Linear",
    "Optimizer",
    "RMSprop",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "mse_loss",
]
