"""Finding a launcher from what a task needs: ``find_launcher("duration=4h & cuda(mem=8GiB)")``.

- :mod:`.parser`: ``parse()`` of requirement expressions;
- :mod:`.specs`: requirements, host specifications and their matching;
- :mod:`.registry`: the user's launchers file and ``find_launcher``.
"""

from .parser import parse
from .registry import (
    Host,
    LauncherEntry,
    LauncherNotFoundError,
    LauncherRegistry,
    config_dir,
    find_launcher,
    launchers_file,
)
from .specs import (
    AcceleratorSpecification,
    AcceleratorType,
    CPUSpecification,
    CudaSpecification,
    HostMatch,
    HostRequirement,
    HostSimpleRequirement,
    HostSpecification,
    MPSSpecification,
    RequirementUnion,
)

__all__ = [
    "AcceleratorSpecification",
    "AcceleratorType",
    "CPUSpecification",
    "CudaSpecification",
    "Host",
    "HostMatch",
    "HostRequirement",
    "HostSimpleRequirement",
    "HostSpecification",
    "LauncherEntry",
    "LauncherNotFoundError",
    "LauncherRegistry",
    "MPSSpecification",
    "RequirementUnion",
    "config_dir",
    "find_launcher",
    "launchers_file",
    "parse",
]
