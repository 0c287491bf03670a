import pytest
import torch

from pacgan_cli.core.io.digest import payload_digest, tensor_digest


def test_the_tensor_digest_covers_names_dtypes_shapes_and_bytes() -> None:
    reference = tensor_digest({"a": torch.zeros(2, 3)})
    assert len(reference) == 64 and reference == tensor_digest({"a": torch.zeros(2, 3)})
    for other in (
        {"b": torch.zeros(2, 3)},
        {"a": torch.zeros(3, 2)},
        {"a": torch.zeros(2, 3, dtype=torch.int32)},
    ):
        assert tensor_digest(other) != reference
    changed = torch.zeros(2, 3)
    changed[1, 2] = -0.0  # one bit
    assert tensor_digest({"a": changed}) != reference


REFERENCE = {"alpha": 0.5, "stage": 2, "config": {"seed": 1, "names": ["CN", "AD"]}, "w": torch.ones(2)}


@pytest.mark.parametrize(
    "edit",
    [
        {"alpha": 0.5000000000000001},  # the next float
        {"alpha": "0.5"},
        {"stage": 2.0},
        {"stage": True},
        {"config": {"seed": 1, "names": ["AD", "CN"]}},
        {"config": {"seed": 1, "names": ["CN", "AD"], "extra": None}},
        {"w": torch.ones(2, dtype=torch.float64)},
        {"w": torch.ones(1, 2)},
        {"w": torch.tensor([1.0, -1.0])},
        {"batch_statistic": 0.25},
    ],
)
def test_the_payload_digest_changes_with_any_key_or_value(edit: dict) -> None:
    assert payload_digest({**REFERENCE, **edit}) != payload_digest(REFERENCE)


def test_the_payload_digest_is_independent_of_key_order_and_of_lists_versus_tuples() -> None:
    reordered = {key: REFERENCE[key] for key in reversed(REFERENCE)}
    assert payload_digest(reordered) == payload_digest(REFERENCE)
    assert payload_digest({"betas": (0.5, 0.999)}) == payload_digest({"betas": [0.5, 0.999]})
    assert payload_digest({"a": ["b", "c"]}) != payload_digest({"a": ["bc"]})
