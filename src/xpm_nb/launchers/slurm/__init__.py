"""The SLURM launcher: jobs submitted with ``sbatch``, followed with ``squeue``/``sacct``.

::

    from xpm_nb.launchers.slurm import SlurmLauncher, SlurmOptions

    gpu = SlurmLauncher(options=SlurmOptions(partition="gpu", gpus_per_node=1, time="4:00:00"))
    with experiment(workdir, "train", launcher=gpu):
        Train.C(...).submit()
        Eval.C(...).submit(launcher=gpu.config(gpus_per_node=0, time="0:30:00"))
"""

from .launcher import SlurmLauncher, SlurmProcessBuilder, SlurmScriptBuilder
from .options import SlurmOptions, format_time, parse_time

__all__ = ["SlurmLauncher", "SlurmOptions", "SlurmProcessBuilder", "SlurmScriptBuilder",
           "format_time", "parse_time"]
