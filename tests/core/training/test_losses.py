import torch
import torch.nn.functional as F
from torch import nn

from pacgan_cli.core.training.losses import critic_loss, generator_loss, gradient_penalty


class LinearCritic(nn.Module):
    """D(x) = <w, x>: its gradient is w everywhere, so GP = (||w|| - 1)^2 exactly."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight)

    def forward(self, images: torch.Tensor, alpha: float, stage: int) -> tuple[torch.Tensor, torch.Tensor]:
        scores = (images.flatten(1) * self.weight.flatten()).sum(dim=1, keepdim=True)
        return scores, torch.zeros(images.shape[0], 2)


def test_gradient_penalty_of_linear_critic() -> None:
    torch.manual_seed(0)
    weight = torch.randn(1, 4, 4)
    critic = LinearCritic(weight)
    real, fake = torch.randn(5, 1, 4, 4), torch.randn(5, 1, 4, 4)
    penalty = gradient_penalty(critic, real, fake, 1.0, 0, torch.rand(5, 1, 1, 1))
    expected = (weight.norm() - 1) ** 2
    torch.testing.assert_close(penalty, expected)
    penalty.backward()
    torch.testing.assert_close(critic.weight.grad, 2 * (weight.norm() - 1) * weight / weight.norm())


def test_gradient_penalty_is_zero_for_a_unit_norm_critic() -> None:
    weight = torch.zeros(1, 2, 2)
    weight[0, 0, 0] = 1.0
    penalty = gradient_penalty(
        LinearCritic(weight), torch.ones(3, 1, 2, 2), torch.zeros(3, 1, 2, 2), 1.0, 0, torch.rand(3, 1, 1, 1)
    )
    assert penalty.item() == 0.0


def test_critic_loss_matches_hand_computation() -> None:
    real_scores = torch.tensor([[1.0], [3.0]])
    fake_scores = torch.tensor([[-1.0], [0.0]])
    real_logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    fake_logits = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    labels = torch.tensor([0, 1])
    terms = critic_loss(
        real_scores,
        fake_scores,
        real_logits,
        fake_logits,
        labels,
        torch.tensor(0.5),
        lambda_cls_real=4.0,
        lambda_cls_fake=2.0,
        lambda_gp=10.0,
        drift_weight=0.001,
    )
    ce_real = (-torch.log_softmax(real_logits, 1)[[0, 1], [0, 1]]).mean()
    ce_fake = (-torch.log_softmax(fake_logits, 1)[[0, 1], [0, 1]]).mean()
    expected = -(2.0 - (-0.5)) + 4 * ce_real + 2 * ce_fake + 10 * 0.5 + 0.001 * (1 + 9) / 2
    torch.testing.assert_close(terms["d_loss"], expected.clone().detach())
    torch.testing.assert_close(terms["d_real"], torch.tensor(-2.0))
    torch.testing.assert_close(terms["d_fake"], torch.tensor(-0.5))
    torch.testing.assert_close(terms["drift"], torch.tensor(0.005))


def test_generator_loss_matches_hand_computation() -> None:
    fake_scores = torch.tensor([[2.0], [4.0]])
    fake_logits = torch.tensor([[1.0, 0.0], [0.0, 3.0]])
    labels = torch.tensor([1, 1])
    terms = generator_loss(fake_scores, fake_logits, labels, lambda_cls=4.0)
    torch.testing.assert_close(terms["g_loss"], -3.0 + 4.0 * F.cross_entropy(fake_logits, labels))
