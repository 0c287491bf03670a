"""A full-size InceptionV3 weights file with random weights, made once per session (the real ones cannot
be downloaded in tests); it exercises the real loading path of `build_inception_extractor`."""

from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="session")
def random_inception_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch_fidelity.feature_extractor_inceptionv3 as inception

    torch.manual_seed(0)
    original = inception.FeatureExtractorInceptionV3.load_state_dict
    inception.FeatureExtractorInceptionV3.load_state_dict = lambda self, state: None
    download = inception.load_state_dict_from_url
    inception.load_state_dict_from_url = lambda *args, **kwargs: {}
    try:
        model = inception.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    finally:
        inception.FeatureExtractorInceptionV3.load_state_dict = original
        inception.load_state_dict_from_url = download
    path = tmp_path_factory.mktemp("inception") / "random-inception.pth"
    torch.save(model.state_dict(), path)
    return path
