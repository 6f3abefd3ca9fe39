"""Small convolutional networks for images, with or without weight sharing.

:class:`SmallCNN` stacks blocks *convolution -> ReLU -> pooling* and ends in a
linear readout; with ``shared=False`` every convolution becomes a
:class:`~dltheory.models.LocallyConnected2d` of the same shape (locality
without weight sharing). :meth:`SmallCNN.features` returns the hidden
representations block by block.

:func:`image_network` builds the three architectures of a comparison at an
equal parameter budget (:data:`IMAGE_ARCHITECTURES`): fully connected, locally
connected and convolutional, the comparison behind Poggio et al.'s point that
locality, more than weight sharing, is what deep networks for images exploit
(Poggio, Mhaskar, Rosasco, Miranda, Liao 2017).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .._checks import check_bool, check_choice, check_int
from .local import LocallyConnected2d, _pair
from .mlp import mlp, mlp_parameter_count, seeded, width_for_budget

__all__ = ["SmallCNN", "small_cnn", "cnn_parameter_count", "IMAGE_ARCHITECTURES", "image_network",
           "image_free_width", "image_parameter_count"]

#: The pooling operations of :class:`SmallCNN`.
POOLINGS = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


def _channels(channels: Sequence[int]) -> tuple[int, ...]:
    if isinstance(channels, (str, bytes)) or not isinstance(channels, Sequence):
        raise TypeError(f"channels must be a sequence of positive integers, got {type(channels).__name__}")
    if len(channels) < 1:
        raise ValueError("channels must list at least one block's output channels")
    return tuple(check_int(c, f"channels[{i}]", min=1) for i, c in enumerate(channels))


def _block_sizes(in_size: tuple[int, int], blocks: int, kernel: tuple[int, int], padding: tuple[int, int],
                 pool: int) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """For each block, the spatial size after its convolution and after its pooling."""
    sizes, (h, w) = [], in_size
    for b in range(blocks):
        ch, cw = h + 2 * padding[0] - kernel[0] + 1, w + 2 * padding[1] - kernel[1] + 1
        if ch < 1 or cw < 1 or ch < pool or cw < pool:
            raise ValueError(f"block {b} gets an input of size {(h, w)}: too small for kernel_size {kernel}, "
                             f"padding {padding} and pool {pool}")
        h, w = ch // pool, cw // pool
        sizes.append(((ch, cw), (h, w)))
    return sizes


class SmallCNN(nn.Module):
    """Blocks *convolution -> ReLU -> pooling* and a linear readout.

    Block :math:`b` maps :math:`C_{b-1}` channels to :math:`C_b` (``channels[b]``)
    with a stride-1 convolution of kernel :math:`k_h \\times k_w`, zero padding
    :math:`p` (default :math:`\\lfloor k/2 \\rfloor`, which keeps the size for odd
    kernels), a ReLU and a :math:`q \\times q` max (or average) pooling of stride
    :math:`q` (``pool``; 1 means none). With spatial size :math:`H_{b-1}` in, the
    convolution gives :math:`H_{b-1} + 2p - k_h + 1` and the pooling
    :math:`H_b = \\lfloor (H_{b-1} + 2p - k_h + 1)/q \\rfloor`. The readout is
    ``nn.Linear`` on the flattened last block, :math:`C_B H_B W_B \\to` ``num_classes``.

    With ``shared=True`` the convolutions are ``nn.Conv2d``; with ``shared=False``
    they are :class:`~dltheory.models.LocallyConnected2d`: the same windows, a
    filter (and bias) of its own at every output location, :math:`H'W'` times the
    parameters. Both start from the same distribution (uniform on
    :math:`\\pm 1/\\sqrt{C k_h k_w}`, PyTorch's default for ``nn.Conv2d``).

    Parameters: :func:`cnn_parameter_count`. Inputs are ``(n, C, H, W)``, or
    ``(n, C H W)`` rows (reshaped); the output is ``(n, num_classes)``.
    """

    def __init__(self, in_channels: int, in_size: int | Sequence[int], channels: Sequence[int],
                 num_classes: int, *, kernel_size: int | Sequence[int] = 3,
                 padding: int | Sequence[int] | None = None, pool: int = 2, pooling: str = "max",
                 shared: bool = True, seed: int | None = None, dtype: torch.dtype | None = None,
                 device: torch.device | str | None = None) -> None:
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", min=1)
        self.in_size = _pair(in_size, "in_size", 1)
        self.channels = _channels(channels)
        self.num_classes = check_int(num_classes, "num_classes", min=1)
        self.kernel_size = _pair(kernel_size, "kernel_size", 1)
        self.padding = (_pair(padding, "padding", 0) if padding is not None
                        else (self.kernel_size[0] // 2, self.kernel_size[1] // 2))
        self.pool = check_int(pool, "pool", min=1)
        self.pooling = check_choice(pooling, "pooling", tuple(POOLINGS))
        self.shared = check_bool(shared, "shared")
        sizes = _block_sizes(self.in_size, len(self.channels), self.kernel_size, self.padding, self.pool)
        self.out_size: tuple[int, int] = sizes[-1][1]

        def build() -> tuple[nn.ModuleList, nn.Linear]:
            blocks, c_in, h_w = [], self.in_channels, self.in_size
            for c_out, (_, pooled) in zip(self.channels, sizes):
                if shared:
                    layer = nn.Conv2d(c_in, c_out, self.kernel_size, padding=self.padding, dtype=dtype)
                else:
                    layer = LocallyConnected2d(c_in, c_out, h_w, self.kernel_size, padding=self.padding,
                                               dtype=dtype)
                pooler = POOLINGS[pooling](self.pool) if self.pool > 1 else nn.Identity()
                blocks.append(nn.Sequential(layer, nn.ReLU(), pooler))
                c_in, h_w = c_out, pooled
            readout = nn.Linear(c_in * h_w[0] * h_w[1], num_classes, dtype=dtype)
            return nn.ModuleList(blocks), readout

        holder = seeded(lambda: nn.ModuleList(build()), seed, device)
        self.blocks, self.readout = holder[0], holder[1]

    def _as_images(self, x: torch.Tensor) -> torch.Tensor:
        shape = (self.in_channels, *self.in_size)
        expected = f"inputs of shape (n, {shape[0]}, {shape[1]}, {shape[2]}) or (n, {shape[0] * shape[1] * shape[2]})"
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"SmallCNN expects {expected}, got {type(x).__name__}")
        if x.ndim == 2 and x.shape[1] == shape[0] * shape[1] * shape[2]:
            return x.reshape(x.shape[0], *shape)
        if x.ndim == 4 and tuple(x.shape[1:]) == shape:
            return x
        raise ValueError(f"SmallCNN expects {expected}, got {tuple(x.shape)}")

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The hidden representations, one per block: ``(n, C_b, H_b, W_b)`` after ReLU and pooling."""
        v, outputs = self._as_images(x), []
        for block in self.blocks:
            v = block(v)
            outputs.append(v)
        return outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.features(x)[-1].flatten(1))

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, in_size={self.in_size}, channels={self.channels}, "
                f"num_classes={self.num_classes}, kernel_size={self.kernel_size}, padding={self.padding}, "
                f"pool={self.pool}, pooling={self.pooling!r}, shared={self.shared}")


def small_cnn(in_channels: int = 1, in_size: int | Sequence[int] = 28, channels: Sequence[int] = (16, 32),
              num_classes: int = 10, *, kernel_size: int | Sequence[int] = 3,
              padding: int | Sequence[int] | None = None, pool: int = 2, pooling: str = "max",
              shared: bool = True, seed: int | None = None, dtype: torch.dtype | None = None,
              device: torch.device | str | None = None) -> SmallCNN:
    """A :class:`SmallCNN` (defaults: MNIST-shaped input, two blocks of 16 and 32 channels).

    ``model.features(x)`` gives the block outputs layer by layer (post-activation,
    after pooling), ``model(x)`` the logits. ``shared=False`` makes the
    convolutions locally connected.
    """
    return SmallCNN(in_channels, in_size, channels, num_classes, kernel_size=kernel_size, padding=padding,
                    pool=pool, pooling=pooling, shared=shared, seed=seed, dtype=dtype, device=device)


def cnn_parameter_count(in_channels: int, in_size: int | Sequence[int], channels: Sequence[int],
                        num_classes: int, *, kernel_size: int | Sequence[int] = 3,
                        padding: int | Sequence[int] | None = None, pool: int = 2,
                        shared: bool = True) -> int:
    """Parameters of :class:`SmallCNN` with these arguments.

    Block :math:`b` has :math:`(C_{b-1} k_h k_w + 1) C_b` parameters when shared
    and :math:`H'_b W'_b` times that when locally connected (:math:`H'_b W'_b`
    its convolution's output locations); the readout has
    :math:`(C_B H_B W_B + 1) \\cdot` ``num_classes``.
    """
    in_channels = check_int(in_channels, "in_channels", min=1)
    in_size, channels = _pair(in_size, "in_size", 1), _channels(channels)
    kernel = _pair(kernel_size, "kernel_size", 1)
    padding = _pair(padding, "padding", 0) if padding is not None else (kernel[0] // 2, kernel[1] // 2)
    pool = check_int(pool, "pool", min=1)
    shared = check_bool(shared, "shared")
    total, c_in = 0, in_channels
    sizes = _block_sizes(in_size, len(channels), kernel, padding, pool)
    for c_out, ((ch, cw), _) in zip(channels, sizes):
        total += (c_in * kernel[0] * kernel[1] + 1) * c_out * (1 if shared else ch * cw)
        c_in = c_out
    h, w = sizes[-1][1]
    return total + (c_in * h * w + 1) * check_int(num_classes, "num_classes", min=1)


#: The architectures :func:`image_network` knows.
IMAGE_ARCHITECTURES = ("fc", "local", "conv")


def _image_widths(architecture: str, inputs: int, width: int, blocks: int) -> list[int] | tuple[int, ...]:
    if architecture == "fc":
        return [inputs, *[width] * blocks]
    return tuple(width * 2**b for b in range(blocks))


def image_parameter_count(architecture: str, in_channels: int, in_size: int | Sequence[int], num_classes: int,
                          width: int, *, blocks: int = 2, kernel_size: int | Sequence[int] = 5,
                          pool: int = 2) -> int:
    """Parameters of :func:`image_network` ``(architecture, ..., width=width)``."""
    check_choice(architecture, "architecture", IMAGE_ARCHITECTURES)
    h, w = _pair(in_size, "in_size", 1)
    width, blocks = check_int(width, "width", min=1), check_int(blocks, "blocks", min=1)
    inputs = check_int(in_channels, "in_channels", min=1) * h * w
    if architecture == "fc":
        return mlp_parameter_count([*_image_widths("fc", inputs, width, blocks), num_classes])
    return cnn_parameter_count(in_channels, (h, w), _image_widths(architecture, inputs, width, blocks),
                               num_classes, kernel_size=kernel_size, pool=pool,
                               shared=architecture == "conv")


def image_free_width(architecture: str, in_channels: int, in_size: int | Sequence[int], num_classes: int,
                     budget: int, *, blocks: int = 2, kernel_size: int | Sequence[int] = 5,
                     pool: int = 2) -> int:
    """The width of :func:`image_network` whose parameter count is closest to ``budget``."""
    check_choice(architecture, "architecture", IMAGE_ARCHITECTURES)
    return width_for_budget(lambda wd: image_parameter_count(architecture, in_channels, in_size, num_classes, wd,
                                                              blocks=blocks, kernel_size=kernel_size, pool=pool),
                            budget)


def image_network(architecture: str, in_channels: int, in_size: int | Sequence[int], num_classes: int,
                  budget: int | None = None, *, width: int | None = None, blocks: int = 2,
                  kernel_size: int | Sequence[int] = 5, pool: int = 2, seed: int | None = None,
                  dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> nn.Module:
    """A fully connected, locally connected or convolutional image classifier (:data:`IMAGE_ARCHITECTURES`).

    ``"conv"`` and ``"local"``: a :class:`SmallCNN` with ``blocks`` blocks of
    :math:`w, 2w, 4w, \\dots` channels (``shared=True`` and ``False``), kernel
    ``kernel_size``, "same" padding and max pooling by ``pool``. ``"fc"``:
    ``Flatten`` and :func:`mlp` ``[C H W, w, ..., w, num_classes]`` with
    ``blocks`` hidden ReLU layers of :math:`w` units, as deep as the others.

    Give either ``budget`` (the width :math:`w` is then :func:`image_free_width`,
    the one whose count is closest) or ``width``. Every network maps
    ``(n, C, H, W)`` images to ``(n, num_classes)`` logits.
    """
    check_choice(architecture, "architecture", IMAGE_ARCHITECTURES)
    h, w = _pair(in_size, "in_size", 1)
    in_channels, blocks = check_int(in_channels, "in_channels", min=1), check_int(blocks, "blocks", min=1)
    num_classes = check_int(num_classes, "num_classes", min=1)
    if (budget is None) == (width is None):
        raise ValueError("give exactly one of budget (a parameter count) and width")
    if width is None:
        width = image_free_width(architecture, in_channels, (h, w), num_classes, budget, blocks=blocks,
                                 kernel_size=kernel_size, pool=pool)
    width = check_int(width, "width", min=1)
    inputs = in_channels * h * w
    if architecture == "fc":
        body = mlp([*_image_widths("fc", inputs, width, blocks), num_classes], seed=seed, dtype=dtype,
                   device=device)
        return nn.Sequential(nn.Flatten(), *body)
    return SmallCNN(in_channels, (h, w), _image_widths(architecture, inputs, width, blocks), num_classes,
                    kernel_size=kernel_size, pool=pool, shared=architecture == "conv", seed=seed,
                    dtype=dtype, device=device)
