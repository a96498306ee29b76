"""What a task requires of a host, what a host offers, and whether they match.

Requirements (parsed from ``"duration=4h & cuda(mem=8GiB) * 2 | ..."``)::

    HostRequirement                 a disjunction: alternatives in order of preference
    └── HostSimpleRequirement       one alternative: duration, cpu, accelerators

Hosts (declared in the user's launchers file)::

    HostSpecification               cpu, accelerators, max_duration, priority, min_gpu
    ├── CPUSpecification            memory, cores, mem_per_cpu, cpu_per_gpu
    └── AcceleratorSpecification    a GPU of any type (memory, model, min_memory)
        ├── CudaSpecification       an NVIDIA GPU (dedicated memory)
        └── MPSSpecification        Apple Silicon (memory shared with the CPU)

Memory is in bytes and durations in seconds everywhere. On a host, 0 means
"not declared" (no limit is checked), except for accelerators, which must be
listed to be used.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field, replace

__all__ = [
    "AcceleratorType",
    "AcceleratorSpecification",
    "CudaSpecification",
    "MPSSpecification",
    "CPUSpecification",
    "HostSpecification",
    "HostRequirement",
    "HostSimpleRequirement",
    "RequirementUnion",
    "HostMatch",
]


class AcceleratorType(enum.Enum):
    """Types of accelerators supported."""

    CUDA = "cuda"
    MPS = "mps"


@dataclass(frozen=True)
class AcceleratorSpecification:
    """Generic accelerator (GPU-like device): matches any type on memory alone.

    On a host, ``memory`` is the device's memory and ``min_memory`` the least a
    request must ask for to get it (keeps small jobs off big GPUs). In a
    requirement, ``memory`` is the memory needed.
    """

    memory: int = 0
    """Memory in bytes"""
    model: str = ""
    """Model name"""
    min_memory: int = 0
    """Minimum request memory (in bytes)"""

    @property
    def accelerator_type(self) -> AcceleratorType | None:
        """Type of accelerator (None for generic)."""
        return None

    @property
    def unified_memory(self) -> bool:
        """If True, memory is shared with the CPU (e.g. Apple Silicon)."""
        return False

    def match(self, spec: AcceleratorSpecification) -> bool:
        """Whether this host accelerator can satisfy the requirement ``spec``.

        A generic requirement matches any accelerator; a typed one (CUDA, MPS)
        only an accelerator of its type. Memory must suffice, the request must
        reach the host's ``min_memory``, and a requested model must be this one.
        """
        wanted = spec.accelerator_type
        if wanted is not None and wanted is not self.accelerator_type:
            return False
        if self.memory and spec.memory > self.memory:
            return False
        if spec.memory < self.min_memory:
            return False
        return not spec.model or spec.model.lower() == self.model.lower()

    def __str__(self) -> str:
        kind = self.accelerator_type.value if self.accelerator_type else "gpu"
        return f"{kind}(mem={_size(self.memory)})" if self.memory else f"{kind}()"


@dataclass(frozen=True)
class CudaSpecification(AcceleratorSpecification):
    """NVIDIA CUDA GPU (dedicated memory); only matches CUDA GPUs."""

    @property
    def accelerator_type(self) -> AcceleratorType:
        return AcceleratorType.CUDA


@dataclass(frozen=True)
class MPSSpecification(AcceleratorSpecification):
    """Apple Metal Performance Shaders: its memory is the CPU's (unified)."""

    @property
    def accelerator_type(self) -> AcceleratorType:
        return AcceleratorType.MPS

    @property
    def unified_memory(self) -> bool:
        return True


@dataclass(frozen=True)
class CPUSpecification:
    """CPU side of a host (or of a requirement)."""

    memory: int = 0
    """Memory in bytes"""
    cores: int = 0
    """Number of cores"""
    mem_per_cpu: int = 0
    """Memory per CPU (0 if not defined): a job asking more memory gets more cores"""
    cpu_per_gpu: int = 0
    """Number of CPU per GPU (0 if not defined)"""


def _accelerators(accelerators, cuda) -> list[AcceleratorSpecification]:
    return [*(accelerators or ()), *(cuda or ())]


@dataclass
class HostSpecification:
    """What a host (a machine, a SLURM partition...) offers.

    ``cuda`` is the older name of ``accelerators`` (both lists are merged).
    """

    accelerators: list[AcceleratorSpecification] = field(default_factory=list)
    """All accelerators (GPUs) available on this host"""
    cuda: list[CudaSpecification] = field(default_factory=list)
    """CUDA GPUs (backwards compatibility, merged into accelerators)"""
    cpu: CPUSpecification = field(default_factory=CPUSpecification)
    """CPU specification for this host"""
    priority: int = 0
    """Priority for this host (higher better)"""
    max_duration: int = 0
    """Max job duration (in seconds; 0: no limit)"""
    min_gpu: int = 0
    """Minimum number of allocated GPUs"""

    def __post_init__(self) -> None:
        merged = _accelerators(self.accelerators, self.cuda)
        self.accelerators = merged
        self.cuda = [a for a in merged if isinstance(a, CudaSpecification)]


@dataclass(frozen=True)
class HostMatch:
    """A host that satisfies a requirement, and what to ask of it."""

    host: HostSpecification
    requirement: HostSimpleRequirement
    cores: int  # cores to ask (requested, or implied by memory per CPU / CPUs per GPU)

    @property
    def gpus(self) -> int:
        return len(self.requirement.accelerators)


class HostRequirement:
    """A requirement must be a disjunction of host requirements."""

    requirements: list[HostSimpleRequirement]
    """List of requirements (by order of priority)"""

    def multiply_duration(self, coefficient: float) -> HostRequirement:
        """A new requirement with every duration multiplied by ``coefficient``."""
        raise NotImplementedError

    def __or__(self, other: HostRequirement) -> RequirementUnion:
        return RequirementUnion(*self.requirements, *other.requirements)

    def match(self, host: HostSpecification) -> HostMatch | None:
        """The first alternative the host satisfies, or None."""
        for req in self.requirements:
            found = req.match(host)
            if found is not None:
                return found
        return None


class RequirementUnion(HostRequirement):
    """Alternatives (``a | b``), tried in order."""

    def __init__(self, *requirements: HostSimpleRequirement):
        self.requirements = list(requirements)

    def multiply_duration(self, coefficient: float) -> RequirementUnion:
        return RequirementUnion(*(r.multiply_duration(coefficient) for r in self.requirements))

    def __eq__(self, other) -> bool:
        return isinstance(other, RequirementUnion) and other.requirements == self.requirements

    def __repr__(self) -> str:
        return " | ".join(str(r) for r in self.requirements)


class HostSimpleRequirement(HostRequirement):
    """Simple host requirement: a duration, CPU needs and accelerators.

    ``HostSimpleRequirement(a, b)`` combines requirements (``a & b``): the
    longest duration, the most memory and cores, all the accelerators.
    """

    def __init__(self, *reqs: HostSimpleRequirement, duration: int = 0,
                 cpu: CPUSpecification | None = None,
                 accelerators: list[AcceleratorSpecification] | None = None):
        self.duration = int(duration)
        """Requested duration (in seconds)"""
        self.cpu = cpu or CPUSpecification()
        """Specification for CPU"""
        self.accelerators = list(accelerators or [])
        """Specification for accelerators (GPUs)"""
        for req in reqs:
            self.duration = max(self.duration, req.duration)
            self.cpu = CPUSpecification(memory=max(self.cpu.memory, req.cpu.memory),
                                        cores=max(self.cpu.cores, req.cpu.cores))
            self.accelerators.extend(req.accelerators)

    @property
    def requirements(self) -> list[HostSimpleRequirement]:
        return [self]

    @property
    def cuda_gpus(self) -> list[CudaSpecification]:
        """CUDA GPUs (backwards compatibility alias)."""
        return [a for a in self.accelerators if isinstance(a, CudaSpecification)]

    def __and__(self, other: HostSimpleRequirement) -> HostSimpleRequirement:
        return HostSimpleRequirement(self, other)

    def multiply_duration(self, coefficient: float) -> HostSimpleRequirement:
        return HostSimpleRequirement(duration=int(math.ceil(self.duration * coefficient)),
                                     cpu=replace(self.cpu), accelerators=self.accelerators)

    def __eq__(self, other) -> bool:
        return (isinstance(other, HostSimpleRequirement) and other.duration == self.duration
                and other.cpu == self.cpu and other.accelerators == self.accelerators)

    def __repr__(self) -> str:
        parts = []
        if self.duration:
            parts.append(f"duration={_duration(self.duration)}")
        if self.cpu.memory or self.cpu.cores:
            args = [f"mem={_size(self.cpu.memory)}"] if self.cpu.memory else []
            args += [f"cores={self.cpu.cores}"] if self.cpu.cores else []
            parts.append(f"cpu({', '.join(args)})")
        parts += [str(a) for a in self.accelerators]
        return " & ".join(parts) or "cpu()"  # no requirement at all

    def match(self, host: HostSpecification) -> HostMatch | None:
        """The host satisfies this requirement: the match, else None."""
        if host.max_duration and self.duration > host.max_duration:
            return None
        if len(self.accelerators) < host.min_gpu:
            return None
        if not _assign(self.accelerators, host.accelerators):
            return None
        # Unified memory (MPS) is taken from the CPU's.
        memory = self.cpu.memory + sum(
            r.memory for r in self.accelerators if r.accelerator_type is AcceleratorType.MPS)
        if host.cpu.memory and memory > host.cpu.memory:
            return None
        cores = self.cpu.cores
        if host.cpu.mem_per_cpu and self.cpu.memory:
            cores = max(cores, math.ceil(self.cpu.memory / host.cpu.mem_per_cpu))
        if host.cpu.cpu_per_gpu:
            cores = max(cores, host.cpu.cpu_per_gpu * len(self.accelerators))
        if host.cpu.cores and cores > host.cpu.cores:
            return None
        return HostMatch(host, self, cores)


def _assign(wanted: list[AcceleratorSpecification], offered: list[AcceleratorSpecification]
            ) -> bool:
    """Whether each wanted accelerator gets a distinct offered one (bipartite matching)."""
    if len(wanted) > len(offered):
        return False
    owner: dict[int, int] = {}  # offered index -> wanted index

    def augment(w: int, seen: set[int]) -> bool:
        for o, acc in enumerate(offered):
            if o in seen or not acc.match(wanted[w]):
                continue
            seen.add(o)
            if o not in owner or augment(owner[o], seen):
                owner[o] = w
                return True
        return False

    return all(augment(w, set()) for w in range(len(wanted)))


def _size(n: int) -> str:
    for unit, factor in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= factor and n % factor == 0:
            return f"{n // factor}{unit}"
    return f"{n}B"


def _duration(seconds: int) -> str:
    for unit, factor in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % factor == 0:
            return f"{seconds // factor}{unit}"
    return f"{seconds}s"
