import random
import sys

import numpy as np
import pytest
import torch

import dltheory
from dltheory import config


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("DLT_DEVICE", "DLT_SCALE"):
        monkeypatch.delenv(name, raising=False)


def test_device_defaults_to_best_available():
    expected = "cuda" if torch.cuda.is_available() else ("mps" if config._mps_available() else "cpu")
    assert config.device().type == expected


def test_device_env_override(monkeypatch):
    monkeypatch.setenv("DLT_DEVICE", "cpu")
    assert config.device() == torch.device("cpu")
    assert config.device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("name", ["gpu", "cuda:x", "tpu"])
def test_device_rejects_unknown_names(name):
    with pytest.raises(ValueError, match="device"):
        config.device(name)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_missing_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("DLT_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        config.device()


def test_colab_without_gpu_warns_and_banner_says_how_to_switch(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "google.colab", object())
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(config, "_mps_available", lambda: False)
    with pytest.warns(RuntimeWarning, match="no GPU"):
        dev = config.device()
    config.banner(dev)
    out = capsys.readouterr().out
    assert "device: cpu" in out and "Change runtime type" in out


def test_banner_outside_colab(capsys, monkeypatch):
    monkeypatch.setenv("DLT_SCALE", "quick")
    config.banner(torch.device("cpu"))
    out = capsys.readouterr().out.splitlines()
    assert out == [f"dltheory {dltheory.__version__} | device: cpu | scale: quick (DLT_SCALE=full for paper scale)"]


def test_seed_all_makes_every_generator_repeat():
    def draw():
        return random.random(), np.random.rand(), torch.rand(1).item()

    config.seed_all(7)
    first = draw()
    config.seed_all(7)
    assert draw() == first
    assert config.seed_all(3).initial_seed() == 3


@pytest.mark.parametrize("seed, error", [(-1, ValueError), (1.5, TypeError), ("0", TypeError), (True, TypeError)])
def test_seed_all_rejects_bad_seeds(seed, error):
    with pytest.raises(error, match="seed must be a non-negative integer below 2\\*\\*63"):
        config.seed_all(seed)


def test_scale_and_by_scale(monkeypatch):
    monkeypatch.setenv("DLT_SCALE", "full")
    assert config.scale() == "full" and config.by_scale(quick=1, full=2) == 2
    monkeypatch.setenv("DLT_SCALE", "QUICK")
    assert config.scale() == "quick" and config.by_scale(quick=1, full=2) == 1


def test_scale_default_follows_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert config.scale() == "full"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert config.scale() == "quick"


def test_bad_scale_is_an_error(monkeypatch):
    monkeypatch.setenv("DLT_SCALE", "medium")
    with pytest.raises(ValueError, match="DLT_SCALE"):
        config.scale()


def test_limit_cpu_threads_only_touches_the_cpu():
    before = torch.get_num_threads()
    try:
        config.limit_cpu_threads(torch.device("cpu"), threads=1)
        assert torch.get_num_threads() == 1
        config.limit_cpu_threads(torch.device("meta"), threads=2)  # not the CPU: nothing changes
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match="threads"):
        config.limit_cpu_threads(torch.device("cpu"), threads=0)


def test_float64_work_leaves_mps_for_the_cpu():
    assert config.float64_device("cpu") == torch.device("cpu")
    assert config.float64_device(torch.device("cuda", 1)) == torch.device("cuda", 1)
    assert config.float64_device("mps") == torch.device("cpu")  # MPS has no float64
