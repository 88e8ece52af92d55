"""Device requests are checked against this machine before anything moves there."""

import pytest
import torch

from dlor import DLoRError
from dlor._device import check_device
from dlor.train import GroupSpec, GroupTrainer, TrainConfig


@pytest.mark.parametrize("spec", ["cpu", "cpu:0", torch.device("cpu")])
def test_cpu_is_always_accepted(spec):
    assert check_device(spec) == torch.device("cpu")


@pytest.mark.parametrize("spec", ["tpu", "cuda:x", "", "meta"])
def test_unknown_devices_name_the_choices(spec):
    with pytest.raises(DLoRError, match="device must be cpu, cuda or cuda:N"):
        check_device(spec)
    with pytest.raises(DLoRError, match="^--device must be cpu, cuda or cuda:N"):
        check_device(spec, option="--device")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("spec", ["cuda", "cuda:0", torch.device("cuda", 1)])
def test_cuda_without_it_says_why_and_the_way_out(spec):
    with pytest.raises(DLoRError, match=r"CUDA is not available on this machine \(.*\); use device='cpu'"):
        check_device(spec)
    with pytest.raises(DLoRError, match=r"^--device cuda.*use --device cpu$"):
        check_device(spec, option="--device")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_index_beyond_the_gpus_present():
    count = torch.cuda.device_count()
    assert check_device(f"cuda:{count - 1}") == torch.device("cuda", count - 1)
    with pytest.raises(DLoRError, match=f"this machine has {count} CUDA device"):
        check_device(f"cuda:{count}")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_group_trainer_refuses_cuda_without_it():
    # before the check, torch failed at the first .to("cuda") with "Torch not compiled with CUDA enabled"
    with pytest.raises(DLoRError, match="CUDA is not available"):
        GroupTrainer(GroupSpec("deep", 2, None, [0]), TrainConfig(epochs=1), device="cuda")
