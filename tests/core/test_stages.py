import pytest

from pacgan_cli.core.stages import is_stage_size, size_to_stage, stage_size


def test_stage_size_and_size_to_stage_are_inverse() -> None:
    assert [stage_size(s) for s in range(7)] == [4, 8, 16, 32, 64, 128, 256]
    assert [size_to_stage(stage_size(s)) for s in range(10)] == list(range(10))


@pytest.mark.parametrize("size", [0, 1, 2, 3, 6, 12, 48, 255, -4])
def test_sizes_without_a_stage_are_refused(size: int) -> None:
    assert not is_stage_size(size)
    with pytest.raises(ValueError, match=str(size)):
        size_to_stage(size)
