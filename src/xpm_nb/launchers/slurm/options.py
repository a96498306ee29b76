"""``SlurmOptions``: the resources asked of SLURM, as ``sbatch`` arguments."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from ...errors import InvalidArgumentError
from ..base import Described, Description

__all__ = ["SlurmOptions", "format_time", "parse_time"]


@dataclass
class SlurmOptions(Described):
    """Options of ``sbatch`` for the jobs of a :class:`SlurmLauncher`.

    Every field is optional; ``None`` leaves the cluster's default.
    """

    nodes: int | None = 1
    """Number of requested nodes"""
    time: str | None = None
    """Requested time (``"4:00:00"``, ``"2-00:00:00"``, minutes as ``"30"``)"""
    account: str | None = None
    """The account for launching the job"""
    qos: str | None = None
    """The requested Quality of Service"""
    partition: str | None = None
    """The requested partition"""
    constraint: str | None = None
    """Logic expression on node features (as defined by the administrator)"""
    mem: str | None = None
    """Requested memory on the node (in megabytes by default)"""
    exclude: str | None = None
    """List of hosts to exclude"""
    mem_per_gpu: str | None = None
    """Requested memory per allocated GPU (size with units K, M, G, or T)"""
    cpus_per_task: str | None = None
    """Number of cpus requested per task"""
    nodelist: str | None = None
    """Request a specific list of hosts"""
    ntasks_per_node: int | None = None
    """Number of tasks to run on each node"""
    gpus: int | None = None
    """Number of GPUs"""
    gpus_per_node: int | None = None
    """Number of GPUs per node"""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if f.name in _INT_FIELDS:
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    msg = (f"SlurmOptions.{f.name}: expected a non-negative int, got "
                           f"{value!r} (a {type(value).__name__})")
                    raise InvalidArgumentError(msg)
            elif isinstance(value, int) and not isinstance(value, bool):
                setattr(self, f.name, str(value))  # e.g. cpus_per_task=4
            elif not isinstance(value, str) or not value.strip():
                msg = (f"SlurmOptions.{f.name}: expected a non-empty str, got {value!r} "
                       f"(a {type(value).__name__})")
                raise InvalidArgumentError(msg)
        if self.time is not None:
            parse_time(self.time)  # fail now, not in sbatch

    def args(self) -> list[str]:
        """The corresponding ``sbatch`` options, e.g. ``["--nodes=1", "--time=4:00:00"]``."""
        out = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out.append(f"--{f.name.replace('_', '-')}={value}")
        return out

    def describe(self) -> Description:
        description = Description("SlurmOptions")
        self.describe_into(description)
        return description

    def describe_into(self, description: Description) -> None:
        """The options set (a table), and the ``sbatch`` arguments they make."""
        rows = [[f.name, str(getattr(self, f.name))] for f in dataclasses.fields(self)
                if getattr(self, f.name) is not None]
        description.table("options", ["option", "value"], rows)
        description.add("sbatch", " ".join(["sbatch", *self.args()]))

    def merge(self, **kwargs) -> SlurmOptions:
        """A copy with some fields replaced (unknown names are an error listing the valid ones)."""
        names = [f.name for f in dataclasses.fields(self)]
        unknown = [k for k in kwargs if k not in names]
        if unknown:
            import difflib

            close = difflib.get_close_matches(unknown[0], names, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            msg = (f"SlurmOptions has no field {', '.join(map(repr, unknown))}; "
                   f"the fields are: {', '.join(names)}.{hint}")
            raise InvalidArgumentError(msg)
        return dataclasses.replace(self, **kwargs)

    @staticmethod
    def format_time(duration_s: int) -> str:
        """Format a duration in seconds for ``--time`` (``[D-]HH:MM:SS``)."""
        return format_time(duration_s)

    def time_seconds(self) -> int | None:
        """The time limit in seconds (None when not set)."""
        return parse_time(self.time) if self.time is not None else None


_INT_FIELDS = {"nodes", "ntasks_per_node", "gpus", "gpus_per_node"}


def format_time(duration_s: int | float) -> str:
    """``3600`` → ``"1:00:00"``; ``93784`` → ``"1-02:03:04"`` (seconds rounded up)."""
    if duration_s < 0:
        msg = f"a SLURM time must be non-negative, got {duration_s!r} seconds"
        raise InvalidArgumentError(msg)
    total = int(-(-duration_s // 1))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}-{hours:02d}:{minutes:02d}:{seconds:02d}"
    return f"{hours}:{minutes:02d}:{seconds:02d}"


# SLURM's --time formats: "min", "min:sec", "h:min:sec", "d-h", "d-h:min", "d-h:min:sec"
_TIME = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$")


def parse_time(text: str) -> int:
    """Seconds in a SLURM time (``"30"`` = 30 min, ``"1:30:00"``, ``"2-12"``...)."""
    m = _TIME.match(text.strip())
    if m is None:
        msg = (f"SlurmOptions.time: cannot read {text!r} as a SLURM time; use minutes "
               f"(\"30\"), \"H:MM:SS\", or \"D-HH:MM:SS\" (e.g. \"1-12:00:00\")")
        raise InvalidArgumentError(msg)
    days, a, b, c = m.groups()
    if days is not None:  # d-h[:m[:s]]
        h, mi, s = int(a), int(b or 0), int(c or 0)
        return ((int(days) * 24 + h) * 60 + mi) * 60 + s
    if c is not None:  # h:m:s
        return (int(a) * 60 + int(b)) * 60 + int(c)
    if b is not None:  # m:s
        return int(a) * 60 + int(b)
    return int(a) * 60  # minutes
