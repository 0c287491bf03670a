"""The shape of both networks as a plain value: what a configuration asks for, what a checkpoint records,
and everything needed to build a fresh network. Free of torch, so the configuration can offer it as a view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pacgan_cli.core.stages import stage_size

if TYPE_CHECKING:
    from torch import nn

GENERATOR = "generator"
DISCRIMINATOR = "discriminator"
GENERATOR_PADDINGS = ("zeros", "replicate")  # zeros: published; replicate: no bright corner pixels
# The discriminator's classifier: acgan (published: K logits), tac (a twin classifier of the fakes beside it,
# Gong et al. 2019) or adc (2K logits, real class k and fake class k, Hou et al. 2022).
AUX_HEADS = ("acgan", "tac", "adc")


@dataclass(frozen=True)
class NetworkArchitecture:
    """Everything needed to rebuild a network; `latent_size`/`embedding_size` only matter for generators."""

    base_channels: int
    factors: tuple[float, ...]
    image_channels: int
    num_classes: int
    latent_size: int = 512
    embedding_size: int = 3
    generator_padding: str = "zeros"  # not in the weights: stored by us, zeros for published files
    aux_head: str = "acgan"  # the discriminator's classifier (AUX_HEADS); published files: acgan

    @property
    def num_stages(self) -> int:
        return len(self.factors)

    @property
    def max_size(self) -> int:
        return stage_size(self.num_stages - 1)

    def build(self, kind: str) -> nn.Module:
        """A freshly initialised network of this shape (torch is imported only when one is built)."""
        from pacgan_cli.core.models.discriminator import Discriminator
        from pacgan_cli.core.models.generator import Generator

        if kind == GENERATOR:
            return Generator(
                self.latent_size,
                self.embedding_size,
                self.num_classes,
                self.image_channels,
                self.base_channels,
                list(self.factors),
                self.generator_padding,
            )
        return Discriminator(
            self.image_channels, self.base_channels, list(self.factors), self.num_classes, self.aux_head
        )
