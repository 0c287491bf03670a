import pytest
import torch

from pacgan_cli.core.errors import ConfigError
from pacgan_cli.core.runtime import resolve_device, training_devices


def test_the_cpu_ignores_the_gpu_list() -> None:
    assert training_devices(torch.device("cpu"), (0, 1, 2), visible=0) == [torch.device("cpu")]


def test_plain_cuda_spreads_over_the_listed_gpus_in_order_without_repeats() -> None:
    devices = training_devices(torch.device("cuda"), (1, 0, 1), visible=2)
    assert devices == [torch.device("cuda", 1), torch.device("cuda", 0)]
    assert training_devices(torch.device("cuda"), (0,), visible=4) == [torch.device("cuda", 0)]


def test_an_explicit_gpu_index_wins_over_the_list() -> None:
    assert training_devices(torch.device("cuda:2"), (0, 1), visible=3) == [torch.device("cuda", 2)]


@pytest.mark.parametrize(("device", "gpus"), [("cuda", (0, 3)), ("cuda:2", (0,))])
def test_a_gpu_that_is_not_there_is_named(device: str, gpus: tuple[int, ...]) -> None:
    with pytest.raises(ConfigError, match=r"GPU \d was asked for, but 2 GPU\(s\) are visible \(ids 0..1\)"):
        training_devices(torch.device(device), gpus, visible=2)


def test_cuda_without_a_gpu_is_an_error_not_a_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="no CUDA GPU is available"):
        resolve_device("cuda")
    assert resolve_device("auto") == torch.device("cpu")


def test_auto_with_a_gpu_index_falls_back_to_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto:1") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto:1") == torch.device("cuda", 1)
    assert resolve_device("auto") == torch.device("cuda")
