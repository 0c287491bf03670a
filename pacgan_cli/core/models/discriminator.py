"""Progressive critic with an auxiliary classifier head, state-dict compatible with the published code."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from pacgan_cli.core.models.layers import ConvBlock, WSConv2d, stage_channels

AUX_HIDDEN_CHANNELS = 150


class Discriminator(nn.Module):
    """Scores realness (critic) and predicts the class (auxiliary head) of images at any stage.

    `from_img4` is also the last entry of `from_img`, so both names appear in the state dict.
    The minibatch-standard-deviation layer couples the images of a batch; pass `batch_statistic`
    (a scalar measured beforehand, see `measure_batch_statistic`) to make each prediction depend on
    its own image only.

    `aux_head` shapes the classifier: `acgan` (published) gives K class logits; `tac` adds a twin classifier
    (`twin_FC1`, `twin_layer`) whose K logits follow the classifier's; `adc` gives 2K logits, real class k
    then fake class k. `class_logits` takes the K logits that classify real images out of any of them.
    """

    def __init__(
        self,
        image_channels: int = 1,
        base_channels: int = 512,
        factors: list[float] | None = None,
        num_classes: int = 2,
        aux_head: str = "acgan",
    ) -> None:
        super().__init__()
        self.num_classes, self.aux_head = num_classes, aux_head
        factors = list(factors or [1, 1, 1 / 2, 1 / 4, 1 / 8, 1 / 16, 1 / 32])
        channels = stage_channels(base_channels, factors)
        self.num_stages = len(factors)
        self.prog_blocks = nn.ModuleList()
        self.from_img = nn.ModuleList()
        self.leaky = nn.LeakyReLU(0.2)
        for index in range(len(factors) - 1, 0, -1):
            self.prog_blocks.append(ConvBlock(channels[index], channels[index - 1], use_pixelnorm=False))
            self.from_img.append(WSConv2d(image_channels, channels[index], 1, 1, 0))
        self.from_img4 = WSConv2d(image_channels, base_channels, 1, 1, 0)
        self.from_img.append(self.from_img4)
        self.avg_pool = nn.AvgPool2d(kernel_size=2, stride=2)
        self.final_block = nn.Sequential(
            WSConv2d(base_channels + 1, base_channels, 3, 1, 1),
            nn.LeakyReLU(0.2),
            WSConv2d(base_channels, base_channels, 4, 1, 0),
            nn.LeakyReLU(0.2),
        )
        self.adv_layer = WSConv2d(base_channels, 1, 1, 1, 0)
        self.aux_FC1 = WSConv2d(base_channels, AUX_HIDDEN_CHANNELS, 1, 1, 0)
        self.aux_layer = WSConv2d(AUX_HIDDEN_CHANNELS, num_classes * (2 if aux_head == "adc" else 1), 1, 1, 0)
        if aux_head == "tac":
            self.twin_FC1 = WSConv2d(base_channels, AUX_HIDDEN_CHANNELS, 1, 1, 0)
            self.twin_layer = WSConv2d(AUX_HIDDEN_CHANNELS, num_classes, 1, 1, 0)
        # Set during distributed training steps: [groups, n, F] -> [groups, global n, F], so that the
        # minibatch statistic covers the global batch.
        self.batch_gather: Callable[[torch.Tensor], torch.Tensor] | None = None

    def forward(
        self,
        images: torch.Tensor,
        alpha: float,
        stage: int,
        batch_statistic: float | torch.Tensor | None = None,
        groups: int = 1,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Images [B, C, S, S] -> (critic scores [B, 1], class logits [B, K]; [B, 2K] for tac and adc).

        `groups` > 1 splits the batch into that many equal consecutive parts, each with its own minibatch
        statistic, so that one call on `cat([real, fake])` gives each half exactly what a call on it alone
        gives.
        """
        return self.heads(self.features(images, alpha, stage), batch_statistic, groups)

    def features(self, images: torch.Tensor, alpha: float, stage: int) -> torch.Tensor:
        """The 4x4 feature maps [B, C0, 4, 4] that enter the minibatch-stddev layer."""
        first = len(self.prog_blocks) - stage
        out = self.leaky(self.from_img[first](images))
        if stage == 0:
            return out
        downscaled = self.leaky(self.from_img[first + 1](self.avg_pool(images)))
        out = self.avg_pool(self.prog_blocks[first](out))
        out = alpha * out + (1 - alpha) * downscaled
        for block in self.prog_blocks[first + 1 :]:
            out = self.avg_pool(block(out))
        return out

    def heads(
        self,
        features: torch.Tensor,
        batch_statistic: float | torch.Tensor | None = None,
        groups: int = 1,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Minibatch stddev (in fp32, also under autocast), final block and both heads on `features` [B, C0, 4, 4]."""
        count, _, height, width = features.shape
        if batch_statistic is None:
            grouped = features.float().reshape(groups, count // groups, -1)
            if self.batch_gather is not None:
                grouped = self.batch_gather(grouped)
            statistic = batch_std(grouped).mean(dim=1).repeat_interleave(count // groups)
        else:
            statistic = torch.as_tensor(batch_statistic, dtype=torch.float32, device=features.device)
            statistic = statistic.expand(count)
        statistic_map = statistic.to(features.dtype).view(count, 1, 1, 1).expand(count, 1, height, width)
        out = self.final_block(torch.cat([features, statistic_map], dim=1))
        scores = self.adv_layer(out)
        logits = self.aux_layer(self.aux_FC1(out))
        if self.aux_head == "tac":
            logits = torch.cat([logits, self.twin_layer(self.twin_FC1(out))], dim=1)
        return scores.view(scores.shape[0], -1), logits.view(logits.shape[0], logits.shape[1])

    def class_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """The K logits [B, K] that classify real images, out of the head's output (the whole of it for
        acgan; the classifier's, not the twin's, for tac; the real classes' for adc, whose softmax is
        p(class | image, real))."""
        return logits[:, : self.num_classes]


def batch_std(values: torch.Tensor) -> torch.Tensor:
    """`torch.std(values, dim=1)` [G, F] of `values` [G, N, F], equal to it bit for bit in value and gradient,
    but twice differentiable where all N values are equal (torch.std's second derivative is NaN there).

    The gradient penalty differentiates the critic twice, and differentiable augmentation can give every
    image of a batch the same zero pixel (zero padding, cutout), which would turn the critic's weights into
    NaN. Such columns are 0, as in torch.std, computed from a stand-in that has no gradient. A single image
    (N = 1) stays NaN, as in torch.std.
    """
    if values.shape[1] < 2:
        return torch.std(values, dim=1)
    constant = (values == values[:, :1]).all(dim=1, keepdim=True)
    stand_in = torch.arange(values.shape[1], dtype=values.dtype, device=values.device).view(1, -1, 1)
    return torch.where(constant.squeeze(1), 0, torch.std(torch.where(constant, stand_in, values), dim=1))


@torch.no_grad()
def measure_batch_statistic(
    discriminator: Discriminator,
    images: torch.Tensor,
    alpha: float,
    stage: int,
    batch_size: int = 64,
) -> float:
    """The minibatch-stddev statistic over a whole image set (unbiased std per feature, averaged).

    Streams `images` [N, C, S, S] in batches with float64 sums, so memory stays flat. Needs N >= 2.
    """
    if images.shape[0] < 2:
        raise ValueError("the batch statistic needs at least 2 images")
    device = next(discriminator.parameters()).device
    total = squares = None
    for start in range(0, images.shape[0], batch_size):
        features = discriminator.features(images[start : start + batch_size].to(device), alpha, stage)
        features = features.double()
        batch_sum, batch_squares = features.sum(dim=0), (features * features).sum(dim=0)
        total = batch_sum if total is None else total + batch_sum
        squares = batch_squares if squares is None else squares + batch_squares
    count = images.shape[0]
    variance = (squares - total * total / count) / (count - 1)
    return float(variance.clamp_min(0).sqrt().mean())
