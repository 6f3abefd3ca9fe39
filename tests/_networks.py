"""Small networks with given weights, for tests that compute a quantity of the weights by hand."""

import torch
from torch import nn


def weighted_mlp(*weights, bias=None, relu: bool = True) -> nn.Sequential:
    """``Linear`` layers with these float64 weight matrices (and biases, if given), ReLU between them.

    ``relu=False`` leaves the activations out: a deep linear network.
    """
    layers: list[nn.Module] = []
    for i, W in enumerate(weights):
        W = torch.as_tensor(W, dtype=torch.float64)
        layer = nn.Linear(W.shape[1], W.shape[0], bias=bias is not None, dtype=torch.float64)
        with torch.no_grad():
            layer.weight.copy_(W)
            if bias is not None:
                layer.bias.copy_(torch.as_tensor(bias[i], dtype=torch.float64))
        layers.append(layer)
        if relu and i < len(weights) - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)
