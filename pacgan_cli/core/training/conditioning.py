"""How the class conditions training, beyond the published ACGAN terms: remedies for the loss of diversity
that conditioning causes on small data sets. With the defaults every step computes the published loss.

- **Classifier head** (`aux_head`): `acgan` (published) trains one classifier C of the critic on real and
  generated images, and the generator to make C recognise its class. An auxiliary classifier pushes the
  classes apart even where they overlap and favours easily classified, alike images (Gong et al. 2019,
  TAC-GAN; Kang et al. 2021). `tac` adds a twin classifier T trained on the generated images only; the
  generator minimises CE(C(G)) - CE(T(G)), which removes the push towards easily classified images. `adc`
  classifies 2K classes, real class k and fake class k (Hou et al. 2022, ADC-GAN); the generator minimises
  CE(y) - CE(y + K) over the 2K logits. For `classify`, every head gives K probabilities from the same
  K logits: C's (acgan, tac) or the real classes' (adc: the softmax over the real-class logits, p(k | x, real)).
- **Classifier data** (`classifier_data: real`): C learns from real images only (its generated-image term is
  dropped; the generator still uses it, as StudioGAN's modified ACGAN does).
- **Conditioning ramp** (`conditioning_ramp: r` stages): every classification weight grows linearly from 0
  at the start of training to its value after r stages, so the first, coarse stages learn the images'
  shared structure unconditionally (Shahbazi et al. 2022: conditioning causes collapse on limited data).
- **Mode seeking** (`mode_seeking_weight`, Mao et al. 2019, MSGAN): the generator draws a second latent
  batch for the same labels and adds weight / (mean|G(z1) - G(z2)| / mean|z1 - z2| + 1e-5), so two latents
  of a class that give near-identical images cost it.
  With `mode_seeking_mask` each pixel's difference is weighted by how much the training images vary there
  (mean weight 1), so that differences in a constant background, which the critic lets through cheaply,
  earn nothing (unmasked, the demo's generator drew specks into its empty corners).
- **LeCam** (`lecam_weight`, `lecam_decay`; Tseng et al. 2021): the critic adds
  weight * (E[(D(x) - m_fake)^2] + E[(D(G(z)) - m_real)^2]), with m_real and m_fake moving averages of its
  mean real and fake scores, which keeps its scores from drifting apart on a small training set. The averages
  are training state: they are saved in resume checkpoints and discriminator checkpoints.

Weights: LAMBDA_CLS_1 weighs every real-image classification term of the critic and the generator's terms,
LAMBDA_CLS_2 every generated-image term of the critic (C's, the twin's, adc's fake classes).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F

from pacgan_cli.core.config import ConditioningSettings, LossWeights
from pacgan_cli.core.training.distributed import Ranks

MODE_SEEKING_EPSILON = 1e-5


@dataclass
class Conditioning:
    """The classifier head's losses, the ramp, mode seeking and LeCam's moving averages (its only state)."""

    head: str = "acgan"
    num_classes: int = 2
    settings: ConditioningSettings = field(default_factory=ConditioningSettings)
    lecam_real: torch.Tensor | None = None  # moving average of the mean real score (None before the first)
    lecam_fake: torch.Tensor | None = None
    # With `mode_seeking_mask`: how much the stage's training images vary at each pixel, mean 1 (derived
    # from the data at each stage's start, so not state).
    pixel_weights: torch.Tensor | None = None

    def start_stage(self, images: torch.Tensor) -> None:
        """Mode seeking's pixel weights for a stage whose training images are `images` [N, C, H, W]: each
        pixel's standard deviation over the images, over its mean, so that a pixel where every real image
        is alike (a constant background) earns the generator nothing for differing."""
        if not self.settings.mode_seeking_mask:
            return
        spread = images.float().std(dim=0, keepdim=True)
        mean = spread.mean()
        self.pixel_weights = spread / mean if mean > 0 else torch.ones_like(spread)

    def weights(self, weights: LossWeights, progress: float) -> LossWeights:
        """The classification weights at `progress` (stages since the start of training, fractional), on
        the conditioning ramp: unchanged without one, or once it is over."""
        ramp = self.settings.ramp_stages
        factor = 1.0 if ramp <= 0 else min(1.0, progress / ramp)
        if factor == 1.0:
            return weights
        return replace(
            weights,
            cls_real=weights.cls_real * factor,
            cls_fake=weights.cls_fake * factor,
            cls_twin=weights.cls_twin * factor,
        )

    def classifier_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """What the published terms' cross-entropies see: C's K logits (acgan: all there are; tac: not the
        twin's), all 2K with adc."""
        return logits[:, : self.num_classes] if self.head == "tac" else logits

    def fake_labels(self, labels: torch.Tensor) -> torch.Tensor:
        """The classes a generated image is trained towards in the critic: its fake class with adc."""
        return labels + self.num_classes if self.head == "adc" else labels

    def critic_terms(
        self,
        terms: dict[str, torch.Tensor],
        real_scores: torch.Tensor,
        fake_scores: torch.Tensor,
        fake_logits: torch.Tensor,
        labels: torch.Tensor,
        weights: LossWeights,
        ranks: Ranks,
    ) -> dict[str, torch.Tensor]:
        """The published critic terms with the twin's and LeCam's added (and added to d_loss)."""
        if self.head == "tac":
            terms["cls_twin"] = F.cross_entropy(fake_logits[:, self.num_classes :], labels)
            terms["d_loss"] = terms["d_loss"] + weights.cls_twin * terms["cls_twin"]
        if self.settings.lecam_weight > 0:
            terms["lecam"] = self.lecam_penalty(real_scores, fake_scores, ranks)
            terms["d_loss"] = terms["d_loss"] + self.settings.lecam_weight * terms["lecam"]
        return terms

    def generator_terms(
        self,
        terms: dict[str, torch.Tensor],
        fake_logits: torch.Tensor,
        labels: torch.Tensor,
        weights: LossWeights,
    ) -> dict[str, torch.Tensor]:
        """The published generator terms with the twin's (tac) or the fake classes' (adc) subtracted."""
        if self.head == "tac":
            terms["g_twin"] = F.cross_entropy(fake_logits[:, self.num_classes :], labels)
        elif self.head == "adc":
            terms["g_twin"] = F.cross_entropy(fake_logits, labels + self.num_classes)
        else:
            return terms
        terms["g_loss"] = terms["g_loss"] - weights.cls_real * terms["g_twin"]
        return terms

    def mode_seeking(
        self,
        terms: dict[str, torch.Tensor],
        images: tuple[torch.Tensor, torch.Tensor],
        latents: tuple[torch.Tensor, torch.Tensor],
    ) -> dict[str, torch.Tensor]:
        """MSGAN's term for two generated batches of the same labels from two latent batches (their pixel
        differences weighted by `pixel_weights` with the mask)."""
        first, second = images
        difference = (first - second).abs()
        if self.pixel_weights is not None:
            difference = difference * self.pixel_weights
        ratio = difference.mean() / (latents[0] - latents[1]).abs().mean()
        terms["g_mode_seeking"] = 1 / (ratio.float() + MODE_SEEKING_EPSILON)
        terms["g_loss"] = terms["g_loss"] + self.settings.mode_seeking_weight * terms["g_mode_seeking"]
        return terms

    def lecam_penalty(
        self, real_scores: torch.Tensor, fake_scores: torch.Tensor, ranks: Ranks
    ) -> torch.Tensor:
        """Move the averages by this batch's mean scores (over the global batch), then the regulariser."""
        real, fake = real_scores.float(), fake_scores.float()
        sums = ranks.sum(torch.stack([real.detach().sum(), fake.detach().sum()]))
        count = ranks.sum(torch.tensor(float(len(real)), device=real.device))
        means = sums / count
        decay = self.settings.lecam_decay
        if self.lecam_real is None or self.lecam_fake is None:
            self.lecam_real, self.lecam_fake = means[0], means[1]
        else:
            self.lecam_real = decay * self.lecam_real + (1 - decay) * means[0]
            self.lecam_fake = decay * self.lecam_fake + (1 - decay) * means[1]
        return ((real - self.lecam_fake) ** 2).mean() + ((fake - self.lecam_real) ** 2).mean()

    def saved_averages(self) -> list[float] | None:
        """What checkpoints keep: LeCam's two averages, once there are any."""
        if self.lecam_real is None or self.lecam_fake is None:
            return None
        return [float(self.lecam_real), float(self.lecam_fake)]

    def restore_averages(self, averages: list[float] | None, device: torch.device) -> None:
        """Continue with a checkpoint's averages (files without them leave the state as it is)."""
        if averages is not None:
            self.lecam_real = torch.tensor(averages[0], device=device)
            self.lecam_fake = torch.tensor(averages[1], device=device)
