"""Class-conditional progressive generator, state-dict compatible with the published PACGAN checkpoints."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pacgan_cli.core.models.layers import ConvBlock, PixelNorm, WSConv2d, stage_channels


class Generator(nn.Module):
    """Maps a latent vector and a class label to an image at any stage (4x4 ... 4*2**(len(factors)-1)).

    `initial_layer` (to-image at 4x4) is also `last_layer[0]`, so it appears under both names in the
    state dict, exactly as in the published code. `padding_mode` `replicate` (ours; published: `zeros`)
    pads the 3x3 convolutions with the border pixels: with zeros, a corner output reads five zeros of
    its nine taps and can stay bright in every image, where the critic hardly looks (docs/demo.md).
    """

    def __init__(
        self,
        latent_size: int = 512,
        embedding_size: int = 3,
        num_classes: int = 2,
        image_channels: int = 1,
        base_channels: int = 512,
        factors: list[float] | None = None,
        padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        factors = list(factors or [1, 1, 1 / 2, 1 / 4, 1 / 8, 1 / 16, 1 / 32])
        channels = stage_channels(base_channels, factors)
        self.latent_size = latent_size
        self.num_stages = len(factors)
        self.label_embedding = nn.Embedding(num_classes, embedding_size)
        self.initial_block = nn.Sequential(
            PixelNorm(),
            nn.ConvTranspose2d(latent_size + embedding_size, base_channels, 4, 1, 0),
            nn.LeakyReLU(0.2),
            WSConv2d(base_channels, base_channels, padding_mode=padding_mode),
            nn.LeakyReLU(0.2),
            PixelNorm(),
        )
        self.initial_layer = WSConv2d(base_channels, image_channels, 1, 1, 0)
        self.prog_blocks = nn.ModuleList()
        self.last_layer = nn.ModuleList([self.initial_layer])
        for index in range(len(factors) - 1):
            self.prog_blocks.append(
                ConvBlock(channels[index], channels[index + 1], use_pixelnorm=True, padding_mode=padding_mode)
            )
            self.last_layer.append(WSConv2d(channels[index + 1], image_channels, 1, 1, 0))

    def forward(self, z: torch.Tensor, labels: torch.Tensor, alpha: float, stage: int) -> torch.Tensor:
        """`z` [B, Z] or [B, Z, 1, 1], `labels` [B] int64 -> images [B, C, S, S] in [-1, 1], S = 4 * 2**stage.

        At stage > 0 the newest block is faded in: `alpha` = 1 is the new path alone, 0 the upsampled
        output of the previous stage.
        """
        embedded = self.label_embedding(labels).view(labels.shape[0], -1, 1, 1)
        out = self.initial_block(torch.cat([z.view(z.shape[0], -1, 1, 1), embedded], dim=1))
        if stage == 0:
            return torch.tanh(self.initial_layer(out))
        upscaled = out
        for block in self.prog_blocks[:stage]:
            upscaled = F.interpolate(out, scale_factor=2, mode="nearest")
            out = block(upscaled)
        new_path = self.last_layer[stage](out)
        old_path = self.last_layer[stage - 1](upscaled)
        return torch.tanh(alpha * new_path + (1 - alpha) * old_path)
