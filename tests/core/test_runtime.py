from collections.abc import Iterator

import pytest
import torch

from pacgan_cli.core.errors import ConfigError
from pacgan_cli.core.runtime import (
    GRAPHS_PER_STAGE,
    THREADS_VARIABLE,
    compile_module,
    count_physical_cores,
    default_threads,
    physical_cores,
    resolve_device,
    training_devices,
    training_memory_format,
    use_threads,
)


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


def cpuinfo(*processors: tuple[int, int, int]) -> str:
    """/proc/cpuinfo text for (processor, physical id, core id) triples."""
    return "\n\n".join(
        f"processor\t: {p}\nmodel name\t: x86\nphysical id\t: {s}\ncore id\t\t: {c}\nflags\t\t: fpu"
        for p, s, c in processors
    )


def test_physical_cores_count_each_core_once_whatever_its_hyperthreads() -> None:
    hyperthreaded = cpuinfo((0, 0, 0), (1, 0, 1), (2, 0, 0), (3, 0, 1))
    assert count_physical_cores(hyperthreaded) == 2
    assert count_physical_cores(hyperthreaded, allowed={0, 2}) == 1  # both threads of core 0
    two_sockets = cpuinfo((0, 0, 0), (1, 1, 0))
    assert count_physical_cores(two_sockets) == 2
    assert count_physical_cores("processor\t: 0\nBogoMIPS\t: 50.00\n\nprocessor\t: 1\n") is None  # ARM


def test_small_networks_default_to_one_thread_large_ones_to_every_core() -> None:
    assert default_threads(32, cores=8) == 1
    assert default_threads(64, cores=8) == 1
    assert default_threads(128, cores=8) == 8
    assert default_threads(512, cores=8) == 8
    assert default_threads(None, cores=8) == 8  # InceptionV3
    assert default_threads(512) == physical_cores() >= 1


def test_torchrun_processes_on_one_machine_share_its_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert default_threads(512, cores=8) == 2
    assert default_threads(512, cores=2) == 1
    assert default_threads(32, cores=8) == 1


@pytest.fixture
def restore_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.usefixtures("restore_threads")
def test_threads_come_from_the_option_then_the_variable_then_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(THREADS_VARIABLE, raising=False)
    assert use_threads(None, base_channels=32) == "1 CPU thread"
    assert torch.get_num_threads() == 1
    monkeypatch.setenv(THREADS_VARIABLE, "3")
    assert use_threads(None, base_channels=32) == "3 CPU threads"
    assert torch.get_num_threads() == 3
    assert use_threads(2, base_channels=32) == "2 CPU threads"
    for bad in ("two", "0", "-1"):
        monkeypatch.setenv(THREADS_VARIABLE, bad)
        with pytest.raises(ConfigError, match="PACGAN_THREADS must be a whole number of threads, 1 or more"):
            use_threads(None)
    with pytest.raises(ConfigError, match="at least 1"):
        use_threads(0)


def test_compiling_for_a_run_raises_the_recompile_limit_with_its_stages(monkeypatch) -> None:
    """Past torch's limit the later stages would run eagerly with only a warning (seen at the third stage)."""
    import torch._dynamo.config as dynamo_config

    monkeypatch.setattr(dynamo_config, "recompile_limit", 8)
    module = torch.nn.Linear(2, 2)
    assert compile_module(module, False, stages=7) is module and dynamo_config.recompile_limit == 8
    compiled = compile_module(module, True, stages=7)
    assert compiled is not module and dynamo_config.recompile_limit == GRAPHS_PER_STAGE * 7
    compile_module(module, True, stages=1)  # never lowered by a later, shorter run
    assert dynamo_config.recompile_limit == GRAPHS_PER_STAGE * 7


def test_auto_layout_is_channels_last_only_for_small_networks_on_a_cpu() -> None:
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert training_memory_format("auto", cpu, 64) == torch.channels_last
    assert training_memory_format("auto", cpu, 128) == torch.channels_last
    assert training_memory_format("auto", cpu, 512) == torch.contiguous_format
    assert training_memory_format("auto", gpu, 64) == torch.contiguous_format  # unmeasured there
    assert training_memory_format("channels_last", gpu, 512) == torch.channels_last
    assert training_memory_format("contiguous", cpu, 8) == torch.contiguous_format
