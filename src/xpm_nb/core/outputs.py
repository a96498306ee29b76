"""Dynamic task outputs: ``register_task_output`` in the job, ``watch_output`` in the notebook."""

from __future__ import annotations

import inspect
import json
import time

from ..layout import TASK_OUTPUTS_FILE

__all__ = ["register_task_output", "watch_output", "WatchedOutput", "output_value"]


class WatchedOutput:
    """A callback on the outputs a method of a configuration produces while a task runs."""

    def __init__(self, config, method_name: str, callback):
        self.config = config
        self.method_name = method_name
        self.callback = callback


def register_task_output(config, method, *args, **kwargs):
    """Record, in the job's output file, that ``method(*args, **kwargs)`` produced an output.

    In the notebook process the watchers of that method are called with the
    output configuration; inside the job the method's result is returned.
    """
    from . import taskglobals

    name = method.__name__ if callable(method) else str(method)
    bound = getattr(config, name)
    # A method taking the ``dep`` marker (the reference's form) makes its output
    # in the notebook only, as the reference does: it is not called here.
    result = None if takes_marker(bound, args, kwargs) else bound(*args, **kwargs)
    job = taskglobals.job_path()
    if job is not None:
        record = {"time": time.time(), "method": name, "args": args, "kwargs": kwargs}
        path = job / TASK_OUTPUTS_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as f:
            f.write(json.dumps(record, default=str) + "\n")
    return result


def takes_marker(bound, args, kwargs) -> bool:
    """Whether an output method takes the ``dep`` marker first
    (``def checkpoint(self, dep, step)``, as in the reference)."""
    try:
        signature = inspect.signature(bound)
    except (TypeError, ValueError):
        return False
    params = list(signature.parameters.values())
    if params and params[0].name == "dep":
        return True
    try:
        signature.bind(*args, **kwargs)
    except TypeError:
        try:
            signature.bind(None, *args, **kwargs)
        except TypeError:
            return False
        return True
    return False


def output_value(config, task, name: str, args, kwargs):
    """The output ``config.<name>(*args, **kwargs)`` gives in the notebook; a
    method taking ``dep`` gets a marker making its result a dynamic output of
    ``task`` (in its identifier; submitting a task that uses it does not wait
    for ``task`` to end, as the reference's soft dependency)."""
    bound = getattr(config, name)
    if not takes_marker(bound, args, kwargs):
        return bound(*args, **kwargs)

    def dep(output):
        info = output.__xpm__
        if info.task is None:
            info.task = task
            info.dynamic_output = True
        return output

    return bound(dep, *args, **kwargs)


def watch_output(task, method, callback) -> None:
    """Call ``callback(output)`` in this process each time the job registers an output.

    ``method`` is a method of the task or of one of its configurations (bound,
    e.g. ``task.checkpoint``); the output is that method called here with the
    arguments the job recorded.
    """
    name = method.__name__ if callable(method) else str(method)
    target = getattr(method, "__self__", None) if callable(method) else None
    watched = WatchedOutput(target if target is not None else task, name, callback)
    task.__xpm__.watched_outputs.append(watched)
    job = task.__xpm__.job
    if job is not None:  # already submitted: the follower reads the list live
        job.watch_output(watched)
