"""Differentiable augmentation of everything the critic sees, for small data sets.

`diffaugment` (Zhao et al. 2020) passes real and generated images through the same random, differentiable
transforms in the critic's step and in the generator's, so the critic cannot tell them apart by the
augmentation, and the generator, whose gradient flows back through the transforms, still learns the
un-augmented images. `ada` (Karras et al. 2020) applies each transform to each image with a probability p
that starts at 0 and follows an overfitting signal of the critic on the real images.

The signal for a Wasserstein critic: r = E[sign(D(x) - m)] over the real batch, with m the midpoint of the
batch's mean real and mean fake scores. A WGAN critic has no fixed decision boundary at 0 (its scores
shift freely; the drift term even pulls the real mean towards 0), so Karras et al.'s E[sign(D(x))] is
replaced by the sign against the critic's own real/fake midpoint: r = 0 when the critic cannot separate
the training images from the fakes, 1 when it puts every training image on the real side. Each epoch p
moves up by `ada_step` while the epoch's mean r is above `ada_target` (0.6: 80 % of the training images on
the real side, as Karras et al.'s target), and down by the same amount otherwise.

Transforms, in this fixed order whatever the order of the list (DiffAugment's): brightness (add
U(-0.5, 0.5)), saturation (RGB only: scale each pixel's deviation from its channel mean by U(0, 2)),
contrast (scale the deviation from the image mean by U(0.5, 1.5)), translation (an integer shift of up to
S/8 pixels, at least 1, along each axis, zero padding) and cutout (a square of side S/2 set to zero, its
corner anywhere that keeps at least half of it inside along each axis). Zero is mid-grey on the [-1, 1]
scale, as in DiffAugment, and brightness may take pixels outside [-1, 1]: augmented images never leave
training.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pacgan_cli.core.config import AugmentationSettings
from pacgan_cli.core.training.distributed import Ranks, Shard

TRANSFORM_ORDER = ("brightness", "saturation", "contrast", "translation", "cutout")
Draw = dict[str, tuple[torch.Tensor, torch.Tensor]]


@dataclass
class Augmentation:
    """The transforms the critic's inputs go through during training, and ada's probability p, the only
    state (saved in checkpoints so that resume and the next stage continue with it)."""

    mode: str = "none"
    transforms: tuple[str, ...] = ()
    probability: float = 0.0
    target: float = 0.6
    step: float = 0.05

    @classmethod
    def from_settings(cls, settings: AugmentationSettings) -> Augmentation:
        """diffaugment transforms with its fixed p (1 unless `augment_p` says otherwise); ada starts at p = 0."""
        return cls(
            mode=settings.mode,
            transforms=settings.transforms,
            probability=settings.probability if settings.mode == "diffaugment" else 0.0,
            target=settings.ada_target,
            step=settings.ada_step,
        )

    @property
    def active(self) -> bool:
        return self.mode != "none"

    def critic_inputs(
        self, real: torch.Tensor, fake: torch.Tensor, shard: Shard | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Real and fake [B, C, S, S], each through its own draw of the transforms, as DiffAugment applies
        T(x) and T(G(z)); the gradient penalty's interpolates then lie between samples of the two augmented
        distributions the critic compares, as WGAN-GP defines them. Unchanged for none.

        In a distributed run (`shard`: this process's rows of the global batch) each draw is the global
        batch's, as in one process, and each process takes its rows."""
        if not self.active:
            return real, fake
        return apply_transforms(real, self.draw(real, shard)), apply_transforms(fake, self.draw(fake, shard))

    def generator_input(self, fake: torch.Tensor, shard: Shard | None = None) -> torch.Tensor:
        """The generated batch as the critic sees it in the generator's step (a fresh draw)."""
        if not self.active:
            return fake
        return apply_transforms(fake, self.draw(fake, shard))

    def draw(self, images: torch.Tensor, shard: Shard | None) -> Draw:
        """Parameters for the global batch (`shard.total` images), this process's rows of them."""
        shard = shard or Shard.whole(images.shape[0])
        draw = draw_transforms(
            shard.total, images.shape[-1], self.transforms, self.probability, images.device
        )
        rows = slice(shard.begin, shard.end)
        return {name: (parameters[rows], applied[rows]) for name, (parameters, applied) in draw.items()}

    def signal_terms(
        self, real_scores: torch.Tensor, fake_scores: torch.Tensor, ranks: Ranks | None = None
    ) -> dict[str, torch.Tensor]:
        """The overfitting signal of a critic step, summed per epoch with the loss terms (none: nothing)."""
        if not self.active:
            return {}
        return {"augment_signal": overfitting_signal(real_scores.detach(), fake_scores.detach(), ranks)}

    def finish_epoch(self, record: dict[str, float]) -> dict[str, float]:
        """The p the epoch ran with, for its metrics line; ada then moves p by the epoch's mean signal."""
        if not self.active:
            return {}
        used = self.probability
        if self.mode == "ada":
            self.probability = adjust_probability(used, record["augment_signal"], self.target, self.step)
        return {"augment_p": used}

    def saved_probability(self) -> float | None:
        """What checkpoints keep: ada's p (the other modes have no state)."""
        return self.probability if self.mode == "ada" else None

    def restore_probability(self, probability: float | None) -> None:
        """Continue an ada run with a checkpoint's p; files without one (other modes, older runs) keep p."""
        if self.mode == "ada" and probability is not None:
            self.probability = float(probability)


def overfitting_signal(
    real_scores: torch.Tensor, fake_scores: torch.Tensor, ranks: Ranks | None = None
) -> torch.Tensor:
    """Mean of sign(D(x) - m) over these real scores, m = (mean D(x) + mean D(G(z))) / 2: in [-1, 1], 1 when
    every real score lies on the real side of the critic's midpoint. Scores [B, 1]; a 0-dim float32 tensor.
    In a distributed run m is the global batch's (one all-reduce), so the ranks' shares add up to the signal
    of one process."""
    real, fake = real_scores.float(), fake_scores.float()
    if ranks is not None and ranks.active:
        sums = ranks.sum(
            torch.stack([real.sum(), fake.sum(), torch.tensor(float(len(real)), device=real.device)])
        )
        midpoint = (sums[0] + sums[1]) / (2 * sums[2])
    else:
        midpoint = (real.mean() + fake.mean()) / 2
    return torch.sign(real - midpoint).mean()


def adjust_probability(probability: float, signal: float, target: float, step: float) -> float:
    """ada's controller: p + step when the signal is above the target (overfitting), else p - step; in [0, 1],
    rounded to 12 decimals so that steps up and down return to 0 exactly rather than to 1e-17."""
    change = step if signal > target else -step
    return min(1.0, max(0.0, round(probability + change, 12)))


def draw_transforms(
    count: int, size: int, transforms: tuple[str, ...], probability: float, device: torch.device
) -> Draw:
    """Random parameters for `count` images of `size` x `size`: transform name -> (parameters, applied),
    `applied` [count] bool true with `probability` for each image and transform independently. Drawn from
    torch's global generator in a fixed order, so a seed fixes them."""
    draw: Draw = {}
    for name in TRANSFORM_ORDER:
        if name not in transforms:
            continue
        if name == "translation":
            reach = max(1, size // 8)
            parameters = torch.randint(-reach, reach + 1, (count, 2), device=device)
        elif name == "cutout":
            half = size // 4  # half the square's side
            parameters = torch.randint(-half, size - half + 1, (count, 2), device=device)
        else:
            parameters = torch.rand(count, device=device)
        draw[name] = (parameters, torch.rand(count, device=device) < probability)
    return draw


def apply_transforms(images: torch.Tensor, draw: Draw) -> torch.Tensor:
    """`images` [B, C, S, S] through the drawn transforms; images where a transform is not applied keep
    their exact values. Differentiable with respect to `images`."""
    out = images
    for name, (parameters, applied) in draw.items():
        transformed = TRANSFORMS[name](out, parameters)
        out = torch.where(applied.view(-1, 1, 1, 1), transformed, out)
    return out


def adjust_brightness(images: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
    """Add uniform - 0.5 to every pixel of each image; `uniform` [B] in [0, 1)."""
    return images + (uniform.to(images.dtype) - 0.5).view(-1, 1, 1, 1)


def adjust_saturation(images: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
    """Scale each pixel's deviation from its mean over the colour channels by 2 * uniform."""
    mean = images.mean(dim=1, keepdim=True)
    return (images - mean) * (2 * uniform.to(images.dtype)).view(-1, 1, 1, 1) + mean


def adjust_contrast(images: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
    """Scale each image's deviation from its mean by uniform + 0.5."""
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    return (images - mean) * (uniform.to(images.dtype) + 0.5).view(-1, 1, 1, 1) + mean


def translate(images: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Move each image by `shifts` [B, 2] whole pixels (rows down, columns right); what moves in is zero:
    out[b, :, i, j] = images[b, :, i - dy, j - dx] where that lies inside the image, else 0."""
    count, _, height, width = images.shape
    rows = torch.arange(height, device=images.device).view(1, -1) - shifts[:, :1]  # [B, H] source rows
    columns = torch.arange(width, device=images.device).view(1, -1) - shifts[:, 1:]  # [B, W]
    inside = ((rows >= 0) & (rows < height)).view(count, 1, height, 1) & (
        (columns >= 0) & (columns < width)
    ).view(count, 1, 1, width)
    batch = torch.arange(count, device=images.device).view(-1, 1, 1)
    gathered = images[
        batch, :, rows.clamp(0, height - 1).view(count, -1, 1), columns.clamp(0, width - 1).view(count, 1, -1)
    ]  # [B, H, W, C]
    return gathered.permute(0, 3, 1, 2) * inside.to(images.dtype)


def cut_out(images: torch.Tensor, corners: torch.Tensor) -> torch.Tensor:
    """Zero a square of side S/2 whose top-left corner is `corners` [B, 2] (row, column; the square is
    clipped at the image border)."""
    count, _, height, width = images.shape
    side = height // 2
    rows = torch.arange(height, device=images.device).view(1, -1)
    columns = torch.arange(width, device=images.device).view(1, -1)
    inside_rows = (rows >= corners[:, :1]) & (rows < corners[:, :1] + side)  # [B, H]
    inside_columns = (columns >= corners[:, 1:]) & (columns < corners[:, 1:] + side)  # [B, W]
    keep = ~(inside_rows.view(count, 1, height, 1) & inside_columns.view(count, 1, 1, width))
    return images * keep.to(images.dtype)


TRANSFORMS = {
    "brightness": adjust_brightness,
    "saturation": adjust_saturation,
    "contrast": adjust_contrast,
    "translation": translate,
    "cutout": cut_out,
}
