"""The exception tree of ``xpm_nb/errors.py`` is true.

- Every ``raise`` in the package's source raises a class of ``errors.py`` (read
  with ``ast``, nothing imported), but for the short allow-list below.
- The drawing in the module's docstring names every class of ``errors.py``,
  under its parent, with the built-in bases it also has.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import re
from pathlib import Path

import pytest

import xpm_nb.errors as errors

PACKAGE = Path(errors.__file__).parent
SOURCE = PACKAGE.parent

# Paths left out of the check: none, every raise of the package is checked.
SKIPPED: tuple[str, ...] = ()

# Built-ins raised anywhere, for the protocol that expects them.
PROTOCOL = {
    "AttributeError": "__getattr__ and properties: getattr(obj, name, default) must see it",
    "NotImplementedError": "abstract methods and defaults meant to be overridden",
}

# (file under xpm_nb/, what is raised) -> why it is not a class of errors.py.
ALLOWED = {
    ("cli.py", "argparse.ArgumentTypeError"): "argparse's protocol for type= converters",
    ("compat/finder.py", "ModuleNotFoundError"): "the import system's protocol (find_spec)",
    # Connector file and process calls raise what os raises, locally and remotely
    # alike (SshSession.retrying reports them as they are).
    ("connectors/local.py", "OSError"): "as os.open on what is not a regular file",
    ("connectors/ssh/connector.py", "OSError"): "as os: a remote rm -rf that failed",
    ("connectors/ssh/connector.py", "FileExistsError"): "as os.mkdir / os.symlink",
    ("connectors/ssh/process.py", "ProcessLookupError"): "as os.kill",
    # A dropped link inside SshSession.retrying, which reconnects: never escapes.
    ("connectors/ssh/agent.py", "EOFError"): "the link dropped (retrying reconnects)",
    ("connectors/ssh/connector.py", "EOFError"): "the link dropped (retrying reconnects)",
    # Private signals, caught in the package and turned into errors of the tree.
    ("connectors/ssh/session.py", "_LinkDown"): "caught by SshSession.retrying",
    ("core/types.py", "_Mismatch"): "turned into FieldTypeError / ExperimentFileError",
    ("core/params.py", "_Shape"): "turned into SerializationError (file, object, field)",
    ("core/serialization.py", "_Shape"): "turned into SerializationError (file, object, field)",
    ("results/taskresults.py", "_NotImported"): "caught: the job's results are skipped",
    ("launchers/slurm/arrays.py", "ArrayRefused"): "caught: the jobs are submitted one by one",
    # The job process's SIGTERM (a cancel): a BaseException, so that a task's own
    # `except Exception` does not swallow it; run_job catches it and records the end.
    ("run/__init__.py", "Terminated"): "caught by run_job: .failed, exit code 128 + SIGTERM",
    # eventscan.py runs as a script without the package; callers turn it into a warning.
    ("results/eventscan.py", "BadFile"): "an OSError of a standalone script",
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


class Sources:
    """The package's modules, parsed, and the names each binds at any level."""

    def __init__(self):
        self.files = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
        self.trees = {m: ast.parse(p.read_text(), str(p)) for m, p in self.files.items()}
        self.names = {m: self._names(m, t) for m, t in self.trees.items()}

    def _names(self, module: str, tree: ast.Module) -> dict:
        names = {}
        package = module.split(".")
        if self.files[module].name != "__init__.py":
            package = package[:-1]
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                names[node.name] = ("class", module, node.name)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names[node.name] = ("function", module, node)
        for node in ast.walk(tree):  # imports inside functions too
            if isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                source = ".".join(base + ([node.module] if node.module else []))
                for alias in node.names:
                    names.setdefault(alias.asname or alias.name, ("import", source, alias.name))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    names.setdefault(alias.asname or alias.name, ("module", alias.name))
        return names

    def resolve(self, module: str, name: str, depth: int = 0):
        """What ``name`` is in ``module``: ("class", module, name), ("function", module,
        node), ("builtin", name), ("external", dotted) or ("local", name)."""
        bound = self.names.get(module, {}).get(name)
        if bound is None:
            return ("builtin", name) if hasattr(builtins, name) else ("local", name)
        if bound[0] == "import":
            source, original = bound[1], bound[2]
            if source in self.names and depth < 10:
                return self.resolve(source, original, depth + 1)
            return ("external", f"{source}.{original}")
        if bound[0] == "module":
            return ("external", bound[1])
        return bound

    def returned(self, module: str, function: ast.FunctionDef):
        """What a factory of exceptions (``raise _error(...)``) returns, by its annotation."""
        if function.returns is None:
            return ("unannotated", function.name)
        annotation = function.returns
        text = annotation.value if isinstance(annotation, ast.Constant) else ast.unparse(annotation)
        return self.resolve(module, text)


def raises(sources: Sources):
    """``(file, line, what)`` of every raise whose class can be told, ``what`` being the
    resolved target: ("class", module, name), ("builtin", name)..."""
    for module, tree in sources.trees.items():
        relative = sources.files[module].relative_to(PACKAGE).as_posix()
        if relative.startswith(SKIPPED):
            continue
        classes = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for child in ast.walk(node):
                    classes.setdefault(child, node)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Raise) or node.exc is None:
                continue  # a bare re-raise
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            what = None
            if isinstance(target, ast.Name):
                what = sources.resolve(module, target.id)
                if what[0] == "function":
                    what = sources.returned(what[1], what[2])
            elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
                if target.value.id == "self" and node in classes:
                    for item in classes[node].body:
                        if isinstance(item, ast.FunctionDef) and item.name == target.attr:
                            what = sources.returned(module, item)
                else:
                    owner = sources.resolve(module, target.value.id)
                    if owner[0] == "external":
                        what = ("external", f"{owner[1]}.{target.attr}")
            if what is not None and what[0] != "local":  # locals: re-raised exceptions
                yield relative, node.lineno, what


@pytest.fixture(scope="module")
def sources() -> Sources:
    return Sources()


def test_every_raise_is_a_class_of_errors(sources):
    wrong = []
    for relative, line, what in raises(sources):
        if what[0] == "class" and what[1] == "xpm_nb.errors":
            assert what[2] != "XPMError", f"{relative}:{line}: raise a subclass, not XPMError"
            continue
        name = what[-1] if what[0] in ("builtin", "class", "external") else None
        if what[0] == "builtin" and name in PROTOCOL:
            continue
        if (relative, name) in ALLOWED:
            continue
        wrong.append(f"xpm_nb/{relative}:{line}: raises {what}")
    assert not wrong, ("raise a class of xpm_nb/errors.py (add one, with the built-in "
                       "base callers expect), or allow it with a reason:\n" + "\n".join(wrong))


def test_allow_list_is_used(sources):
    """An entry of ALLOWED that matches no raise any more is removed."""
    seen = {(relative, what[-1]) for relative, _, what in raises(sources)}
    assert set(ALLOWED) <= seen, sorted(set(ALLOWED) - seen)


def test_xpmerror_itself_is_never_built(sources):
    """``XPMError`` is the base of the tree: code raises one of its subclasses (also
    when the error is built first, then raised)."""
    built = []
    for module, tree in sources.trees.items():
        relative = sources.files[module].relative_to(PACKAGE).as_posix()
        if relative == "errors.py" or relative.startswith(SKIPPED):
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and sources.resolve(module, node.func.id) == ("class", "xpm_nb.errors",
                                                                  "XPMError")):
                built.append(f"xpm_nb/{relative}:{node.lineno}")
    assert not built, built


def error_classes() -> dict[str, type]:
    return {name: value for name, value in vars(errors).items()
            if isinstance(value, type) and issubclass(value, BaseException)}


TREE_LINE = re.compile(r"^(?P<lead>[ │├└─]*)(?P<name>[A-Z]\w+)(?:\s+(?P<rest>.*))?$")


def drawn_tree() -> dict[str, tuple[str | None, list[str]]]:
    """``{class: (parent, built-in bases from "(also ...)")}`` read from the docstring."""
    block = errors.__doc__.split("::", 1)[1].split("\n\n", 2)[1]
    drawn, stack = {}, []  # stack: (column, name)
    for line in block.splitlines():
        match = TREE_LINE.match(line.strip("\n")[4:])  # the block is indented by 4
        assert match, f"cannot read the tree line {line!r}"
        column = len(match["lead"])
        while stack and stack[-1][0] >= column:
            stack.pop()
        also = re.match(r"\(also ([\w, ]+)\)", match["rest"] or "")
        drawn[match["name"]] = (stack[-1][1] if stack else None,
                                [b.strip() for b in also[1].split(",")] if also else [])
        stack.append((column, match["name"]))
    return drawn


def test_docstring_draws_every_class_where_it_is():
    classes = error_classes()
    tree = drawn_tree()
    ours = {name for name, cls in classes.items() if issubclass(cls, errors.XPMError)}
    assert set(tree) == ours, (sorted(ours - set(tree)), sorted(set(tree) - ours))
    for name, (parent, also) in tree.items():
        cls = classes[name]
        if parent is None:
            assert cls is errors.XPMError
            continue
        bases = [b for b in cls.__bases__ if issubclass(b, errors.XPMError)]
        assert [b.__name__ for b in bases] == [parent], f"{name}: drawn under {parent}"
        others = [b.__name__ for b in cls.__bases__ if not issubclass(b, errors.XPMError)]
        assert others == also, f"{name}: also {others}, drawn as also {also}"
    assert set(errors.__all__) >= set(classes), sorted(set(classes) - set(errors.__all__))
    for name in set(classes) - ours:  # GracefulTimeout: a signal, named in the prose
        assert f"``{name}``" in errors.__doc__


@pytest.mark.parametrize("module, name", [
    ("xpm_nb.launcherfinder.registry", "LauncherNotFoundError"),
    ("xpm_nb.launcherfinder", "LauncherNotFoundError"),
    ("xpm_nb.scheduler.experiment", "FailedExperiment"),
    ("xpm_nb.scheduler.follow", "BadEvent"),
    ("xpm_nb.experiments.jobfilter", "FilterSyntaxError"),
    ("xpm_nb.connectors.ssh.agent", "AgentError"),
])
def test_moved_classes_keep_their_import_path(module, name):
    """Classes that lived elsewhere are the classes of errors.py, where they were."""
    if module.startswith("xpm_nb.connectors.ssh"):
        pytest.importorskip("paramiko")
    assert getattr(importlib.import_module(module), name) is getattr(errors, name)


class _FailedJob:
    """What ``submit._check`` reads of a failed job."""

    def __init__(self, reason: str, dependency_failed: bool):
        from xpm_nb.scheduler.jobs import JobState

        self.state = JobState.ERROR
        self.failure_reason = reason
        self.dependency_failed = dependency_failed

    def failure_message(self) -> str:
        return f"failed: {self.failure_reason}"


@pytest.mark.parametrize("reason, dependency_failed, expected", [
    ("dependency failed: a/1 (exit code 1)", True, errors.DependencyFailedError),
    ("exit code 1", False, errors.JobFailedError),
    # the field decides, not the words of the reason
    ("dependency of mine said no", False, errors.JobFailedError),
])
def test_job_error_class_comes_from_the_job(reason, dependency_failed, expected):
    from xpm_nb.scheduler.submit import _check

    with pytest.raises(errors.JobFailedError) as info:
        _check(_FailedJob(reason, dependency_failed), check=True)
    assert type(info.value) is expected


def test_launcher_dependency_failure_is_a_field():
    from xpm_nb.launchers import ProcessExit

    assert ProcessExit(None, "timeout", by_launcher=True).dependency_failed is False
    assert ProcessExit(None, "gave up", by_launcher=True, dependency_failed=True).dependency_failed
    # the field, not the words of the reason, decides
    assert not ProcessExit(None, "dependency failed: SLURM job 3", by_launcher=True).dependency_failed
