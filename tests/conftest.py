"""Shared fixtures. Tests run single-threaded torch: steadier and faster at these sizes."""

import torch

torch.set_num_threads(1)
