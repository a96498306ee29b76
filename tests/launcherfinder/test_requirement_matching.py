"""Matching requirements against host specifications, table-driven."""

from __future__ import annotations

import pytest

from xpm_nb.launcherfinder import (
    AcceleratorSpecification,
    CPUSpecification,
    CudaSpecification,
    HostSpecification,
    MPSSpecification,
    parse,
)

GiB = 1024**3
H = 3600

HOSTS = {
    # 4 V100 of 32 GiB, 40 cores, 192 GiB, 20 h at most, 10 cores per GPU
    "v100": HostSpecification(cuda=[CudaSpecification(memory=32 * GiB, model="V100")] * 4,
                              cpu=CPUSpecification(cores=40, memory=192 * GiB, cpu_per_gpu=10),
                              max_duration=20 * H),
    # a laptop with Apple Silicon: 32 GiB shared by CPU and GPU
    "mac": HostSpecification(accelerators=[MPSSpecification(memory=32 * GiB, model="M2 Pro")],
                             cpu=CPUSpecification(cores=10, memory=32 * GiB)),
    # a CPU partition giving 4 GiB per core
    "cpu": HostSpecification(cpu=CPUSpecification(cores=64, memory=256 * GiB, mem_per_cpu=4 * GiB),
                             max_duration=48 * H),
    # big GPUs, only for requests of at least 40 GiB, and at least 2 GPUs
    "a100": HostSpecification(accelerators=[CudaSpecification(memory=80 * GiB, min_memory=40 * GiB)] * 8,
                              min_gpu=2),
    # a host that declares nothing: no limit checked, but no accelerator either
    "bare": HostSpecification(),
}

# (requirement, host, matches?, cores asked when it matches)
CASES = [
    ("duration=10h & cuda(mem=16GiB) * 2", "v100", True, 20),
    ("duration=21h & cuda(mem=16GiB)", "v100", False, None),       # too long
    ("cuda(mem=33GiB)", "v100", False, None),                       # GPU memory too small
    ("cuda(mem=8GiB) * 5", "v100", False, None),                    # not enough GPUs
    ("cuda(mem=8GiB) * 4", "v100", True, 40),
    ("gpu(mem=8GiB)", "v100", True, 10),                            # generic matches CUDA
    ("mps(mem=8GiB)", "v100", False, None),                         # MPS is not CUDA
    ("cpu(mem=200GiB)", "v100", False, None),                       # RAM too small
    ("cpu(cores=41)", "v100", False, None),
    ("cpu(cores=2)", "v100", True, 2),
    ("mps(mem=8GiB)", "mac", True, 0),
    ("gpu(mem=8GiB)", "mac", True, 0),
    ("cuda(mem=8GiB)", "mac", False, None),
    ("mps(mem=24GiB) & cpu(mem=8GiB)", "mac", True, 0),              # unified: 32 GiB in all
    ("mps(mem=24GiB) & cpu(mem=9GiB)", "mac", False, None),          # 33 GiB > 32 GiB
    ("mps(mem=33GiB)", "mac", False, None),
    ("cpu(mem=16GiB)", "cpu", True, 4),                              # memory per core → 4 cores
    ("cpu(mem=16GiB, cores=8)", "cpu", True, 8),
    ("cpu(mem=257GiB)", "cpu", False, None),
    ("duration=2d", "cpu", True, 0),
    ("duration=49h", "cpu", False, None),
    ("gpu()", "cpu", False, None),                                    # no accelerator there
    ("cuda(mem=48GiB) * 2", "a100", True, 0),
    ("cuda(mem=16GiB) * 2", "a100", False, None),                    # under min_memory
    ("cuda(mem=48GiB)", "a100", False, None),                        # under min_gpu
    ("duration=1000d & cpu(mem=4096GiB, cores=512)", "bare", True, 512),
    ("cuda()", "bare", False, None),
]


@pytest.mark.parametrize(("expr", "host", "matches", "cores"), CASES,
                         ids=[f"{c[0]} on {c[1]}" for c in CASES])
def test_match(expr, host, matches, cores):
    """A requirement matches a host when every need fits; the match says how many cores to ask."""
    found = parse(expr).match(HOSTS[host])
    assert (found is not None) == matches
    if matches:
        assert found.cores == cores
        assert found.host is HOSTS[host]


def test_first_matching_alternative_wins():
    """Alternatives are tried in order: the match is for the first that fits."""
    req = parse("cuda(mem=8GiB) | mps(mem=8GiB) | cpu(cores=1)")
    assert req.match(HOSTS["v100"]).requirement is req.requirements[0]
    assert req.match(HOSTS["mac"]).requirement is req.requirements[1]
    assert req.match(HOSTS["cpu"]).requirement is req.requirements[2]


def test_accelerators_are_assigned_one_each():
    """Two requests each get their own device (a 40 GiB one cannot take the 16 GiB GPU)."""
    host = HostSpecification(cuda=[CudaSpecification(memory=48 * GiB), CudaSpecification(memory=16 * GiB)])
    # first come, first served would give the 48 GiB GPU to the 8 GiB request
    assert parse("cuda(mem=8GiB) & cuda(mem=40GiB)").match(host) is not None
    assert parse("cuda(mem=40GiB) & cuda(mem=8GiB)").match(host) is not None
    assert parse("cuda(mem=40GiB) & cuda(mem=40GiB)").match(host) is None


class TestAcceleratorMatch:
    CASES = [
        # host accelerator, requested, matches?
        (CudaSpecification(memory=16 * GiB), CudaSpecification(memory=16 * GiB), True),
        (CudaSpecification(memory=16 * GiB), AcceleratorSpecification(memory=8 * GiB), True),
        (MPSSpecification(memory=16 * GiB), AcceleratorSpecification(memory=8 * GiB), True),
        (MPSSpecification(memory=16 * GiB), CudaSpecification(memory=8 * GiB), False),
        (CudaSpecification(memory=16 * GiB), MPSSpecification(memory=8 * GiB), False),
        (CudaSpecification(memory=16 * GiB, model="V100"), CudaSpecification(model="v100"), True),
        (CudaSpecification(memory=16 * GiB, model="V100"), CudaSpecification(model="A100"), False),
        (CudaSpecification(memory=80 * GiB, min_memory=40 * GiB), CudaSpecification(memory=39 * GiB), False),
        (AcceleratorSpecification(memory=8 * GiB), CudaSpecification(memory=1 * GiB), False),
    ]

    @pytest.mark.parametrize(("host", "wanted", "matches"), CASES)
    def test_match(self, host, wanted, matches):
        """Types must agree unless the request is generic; memory and model must fit."""
        assert host.match(wanted) is matches


def test_host_specification_merges_cuda_into_accelerators():
    """cuda=[...] (older name) and accelerators=[...] end up in one list."""
    host = HostSpecification(accelerators=[MPSSpecification(memory=GiB)],
                             cuda=[CudaSpecification(memory=GiB)])
    assert host.accelerators == [MPSSpecification(memory=GiB), CudaSpecification(memory=GiB)]
    assert host.cuda == [CudaSpecification(memory=GiB)]
