"""Building blocks shared by the generator and the discriminator (ProGAN style)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class WSConv2d(nn.Module):
    """Convolution with equalised learning rate: weights ~ N(0, 1), scaled by He's constant at run time.

    The bias lives outside the convolution so that it is not scaled; the state-dict keys
    (`conv.weight`, `bias`) match the published checkpoints.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int = 1,
        gain: float = 2.0,
        padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        self.padding_mode = padding_mode  # zeros (published) or replicate: the border pixel repeated
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = (gain / (kernel_size * kernel_size * in_channels)) ** 0.5
        nn.init.normal_(self.conv.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # conv(x * scale) + bias as one convolution with the bias inside; the scale goes onto whichever of
        # input and weights is smaller (weights at large images, input at small ones). Equal within rounding.
        conv, weight, padding = self.conv, self.conv.weight, self.conv.padding
        if self.padding_mode != "zeros" and any(padding):
            x = F.pad(x, (padding[1], padding[1], padding[0], padding[0]), mode=self.padding_mode)
            padding = (0, 0)
        if x.numel() < weight.numel():
            return F.conv2d(x * self.scale, weight, self.bias, conv.stride, padding)
        return F.conv2d(x, weight * self.scale, self.bias, conv.stride, padding)


class PixelNorm(nn.Module):
    """Normalise each pixel's feature vector to unit mean square (keeps generator signals bounded)."""

    def __init__(self, epsilon: float = 1e-8) -> None:
        super().__init__()
        self.epsilon = epsilon

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / torch.sqrt(torch.mean(x * x, dim=1, keepdim=True) + self.epsilon)


class ConvBlock(nn.Module):
    """Two 3x3 equalised convolutions with LeakyReLU(0.2), optionally pixel-normalised after each."""

    def __init__(
        self, in_channels: int, out_channels: int, use_pixelnorm: bool = True, padding_mode: str = "zeros"
    ) -> None:
        super().__init__()
        self.conv1 = WSConv2d(in_channels, out_channels, padding_mode=padding_mode)
        self.conv2 = WSConv2d(out_channels, out_channels, padding_mode=padding_mode)
        self.leaky = nn.LeakyReLU(0.2)
        self.pn = PixelNorm() if use_pixelnorm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pn(self.leaky(self.conv1(x)))
        return self.pn(self.leaky(self.conv2(x)))


def stage_channels(base_channels: int, factors: list[float]) -> list[int]:
    """Feature channels at each stage (4x4, 8x8, ...), as the published code computes them."""
    return [int(base_channels * factor) for factor in factors]
