"""A task decorated with submit hooks (importable by the job processes)."""

from __future__ import annotations

import os
from pathlib import Path

from xpm_nb import Meta, Param, PathGenerator, SubmitHook, Task, field


class SetEnv(SubmitHook):
    """Sets an environment variable of the job; counts how often it was applied."""

    calls: list = []

    def __init__(self, name: str, value: str):
        self.name, self.value = name, value

    def spec(self):
        return (self.name, self.value)

    def process(self, job, launcher):
        SetEnv.calls.append((self.name, job.identifier))
        job.environ[self.name] = self.value


@SetEnv("XPM_HOOK_A", "from-a")
@SetEnv("XPM_HOOK_A", "from-a")  # the same spec twice: applied once
@SetEnv("XPM_HOOK_B", "from-b")
class ShowEnv(Task):
    x: Param[int]
    out: Meta[Path] = field(default_factory=PathGenerator("env.txt"))

    def execute(self):
        names = ("XPM_HOOK_A", "XPM_HOOK_B", "XPM_HOOK_C")
        self.out.write_text(" ".join(os.environ.get(n, "-") for n in names))


@SetEnv("XPM_HOOK_C", "from-c")
class ShowEnvMore(ShowEnv):
    """Inherits its parent's hooks and adds one."""
