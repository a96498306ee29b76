"""``CommandLauncher``: each job's process started through a command of yours.

::

    from xpm_nb.launchers.command import CommandLauncher

    nice = CommandLauncher(["nice", "-n", "10"])                 # a prefix
    scoped = CommandLauncher(["systemd-run", "--user", "--scope", "-p", "MemoryMax=8G"])
    boxed = CommandLauncher(["apptainer", "exec", "env.sif", "{command}"])
    shell = CommandLauncher(["sh", "-c", "ulimit -v 8000000 && exec {command}"])

The template is a list of arguments. An element that is exactly
``{command}`` stands for the job's command line (``python -m xpm_nb.run
<job folder>``), spliced in as arguments: it must be the last one (anything
after it would be given to the job runner); without one, the template is a
prefix. Inside a longer element (a shell snippet), ``{command}`` is the job's
command line quoted for a POSIX shell. ``{{``/``}}`` write braces.

A worked example of the :class:`~xpm_nb.launchers.base.Launcher` hooks (see
"How to add a launcher" in ``docs/architecture.md``): the process machinery
is the direct launcher's (``launchers/direct.py``). The wrapper must run the
job in its process group, as ``exec`` does (cancelling kills the group), and
leave the job process's pid file to find it after a kernel restart.
"""

from __future__ import annotations

import shlex
import shutil
import string

from ..errors import InvalidArgumentError
from ..process import ProcessHandle
from .base import Description, Launcher
from .direct import ScriptBuilder, check_max_jobs, describe_processes, job_slots, start_process
from .slots import JobSlots

__all__ = ["CommandLauncher", "PLACEHOLDER", "check_template", "apply_template"]

PLACEHOLDER = "{command}"
_FIX = ("Fix: give a list of arguments, a prefix such as ['nice', '-n', '10'] or a "
        "template ending with '{command}', such as ['apptainer', 'exec', 'env.sif', "
        "'{command}']")


def _refuse(template, problem: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"CommandLauncher(command={template!r}): {problem}. {_FIX}")


def _placeholders(template, index: int, element: str) -> list[str]:
    """The placeholders of one element (``{command}`` only), or an error naming it."""
    try:
        parsed = list(string.Formatter().parse(element))
    except ValueError as exc:  # a lone brace
        msg = f"element {index} ({element!r}): {exc}; write {{{{ or }}}} for a brace"
        raise _refuse(template, msg) from None
    found = []
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name != "command" or spec or conversion:
            field = "{" + name + (f"!{conversion}" if conversion else "") + (
                f":{spec}" if spec else "") + "}"
            msg = (f"element {index} ({element!r}) has the placeholder {field}; the only "
                   "one is {command} (write {{ or }} for a brace)")
            raise _refuse(template, msg)
        found.append(name)
    return found


def check_template(template, connector=None) -> list[str]:
    """The template as a list, or an ``InvalidArgumentError`` saying what is wrong.

    On the local host its program must be found (on ``PATH``, or a path that
    can be run); on a remote one it is the host's business.
    """
    if isinstance(template, str):
        msg = (f"a string, not a list of arguments; split it, e.g. "
               f"shlex.split({template!r}) = {shlex.split(template)!r}")
        raise _refuse(template, msg)
    if not isinstance(template, (list, tuple)) or not template:
        raise _refuse(template, "expected a non-empty list of arguments")
    template = list(template)
    count = 0
    for index, element in enumerate(template):
        if not isinstance(element, str) or not element:
            msg = (f"element {index} is {element!r}; every argument is a non-empty "
                   f"string (write {str(element)!r} if you meant it)")
            raise _refuse(template, msg)
        count += len(_placeholders(template, index, element))
    if count > 1:
        raise _refuse(template, "{command} appears more than once (the job would run twice)")
    whole = [i for i, e in enumerate(template) if e == PLACEHOLDER]
    if whole and whole[0] != len(template) - 1:
        msg = (f"{template[whole[0] + 1]!r} comes after {{command}}: it would be given to "
               "the job runner; put the wrapper's options before {command}")
        raise _refuse(template, msg)
    program = template[0]
    if (program != PLACEHOLDER and "{" not in program and getattr(connector, "is_local", True)
            and shutil.which(program) is None):
        msg = (f"the program {program!r} is not found on this host's PATH (or cannot be "
               "run); install it or give its full path")
        raise _refuse(template, msg)
    return template


def apply_template(template: list[str], command: list[str]) -> list[str]:
    """The command line that runs ``command`` through a checked template."""
    quoted = shlex.join(command)
    out: list[str] = []
    for element in template:
        if element == PLACEHOLDER:
            out += command
        else:
            out.append(element.format(command=quoted))
    if not any(_placeholders(template, i, e) for i, e in enumerate(template)):
        out += command  # a prefix
    return out


class CommandLauncher(Launcher):
    """Runs each job as a process of the connector's host, through a command template
    (``nice``, ``systemd-run --user --scope``, a container runner, a shell snippet).

    :param command: the template (see the module's documentation)
    :param connector: the host (default: this machine; on an SSH host the
        template runs there)
    :param max_jobs: jobs running at once on the host, as
        :class:`~xpm_nb.launchers.direct.DirectLauncher` (default: its cores)
    :param python: the Python of the job processes (default: this one, or the
        remote connector's)
    """

    yaml_keys = frozenset({"command", "python", "max_jobs"})

    def __init__(self, command, connector=None, *, priority: float = 0,
                 python: str | None = None, max_jobs: int | None = None):
        super().__init__(connector, priority=priority)
        self.template = check_template(command, self.connector)
        self.python = python
        self.max_jobs = check_max_jobs("CommandLauncher", max_jobs)

    def __repr__(self) -> str:
        limit = f", max_jobs={self.max_jobs}" if self.max_jobs else ""
        return f"CommandLauncher({self.template!r}{limit})"

    def command(self, job) -> list[str]:
        """The job's command line, through the template."""
        return apply_template(self.template, self.scriptbuilder().command(job))

    def scriptbuilder(self) -> ScriptBuilder:
        # On a remote host, the connector's Python (``sys.executable`` is local).
        python = self.python or (None if self.connector.is_local else self.connector.python)
        return ScriptBuilder(python)

    # --- the hooks ---------------------------------------------------------------------

    def slots(self) -> JobSlots | None:
        """The host's slots, shared with the direct launchers of the host."""
        return job_slots(self.max_jobs, self.connector)

    async def attach(self, job) -> ProcessHandle | None:
        """Nothing of its own to find after a restart: the job process (exec'd by the
        wrapper) writes its pid file, which the scheduler follows."""
        return None

    async def launch_async(self, job, env: dict[str, str]) -> ProcessHandle:
        """Start the templated command on the connector's worker threads; the handle
        (a local or SSH process) waits for it and kills its process group."""
        return await self.connector.call(start_process, self.connector, self.command(job),
                                         job, env)

    def describe(self) -> Description:
        description = Description("CommandLauncher")
        description.add("command", shlex.join(self.template))
        describe_processes(self, description)
        return description

    @classmethod
    def from_yaml(cls, settings: dict) -> CommandLauncher:
        """``type: command``: command (a list), max_jobs, python."""
        return cls(settings.get("command"), python=settings.get("python"),
                   max_jobs=settings.get("max_jobs"))
