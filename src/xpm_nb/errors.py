"""The exception tree of xpm_nb.

Every error xpm_nb raises on purpose is one of these (``tests/test_errors_tree.py``
checks the package's ``raise`` statements and this drawing against the classes)::

    XPMError
    ├── ConfigError                    building or changing a configuration
    │   ├── UnknownFieldError          (also ValueError) a keyword the class does not declare
    │   ├── FieldTypeError             (also TypeError, ValueError) a value of the wrong type
    │   ├── MissingFieldError          (also ValueError) a required field unset at seal time
    │   ├── UnsetFieldError            (also AttributeError, KeyError) reading a field not set yet
    │   ├── ConstantFieldError         (also AttributeError) writing a Constant
    │   ├── SealedConfigError          (also AttributeError) changing a sealed config
    │   ├── GeneratedValueError        (also AttributeError) values generated for another task
    │   └── DeclarationError           (also TypeError) a class declaration that cannot work
    ├── IdentifierError                (also ValueError) a value the identifier cannot encode
    ├── SerializationError             a params/definition file that cannot be read or written
    │   ├── DestinationUsedError       (also ValueError) a data path destination used twice
    │   └── DefinitionNotFoundError    (also FileNotFoundError) no definition/params file there
    ├── InvalidArgumentError           (also ValueError) a bad argument, option or setting
    ├── InvalidTypeError               (also TypeError) a value of a type the call cannot take
    ├── StateError                     (also RuntimeError) a call the current state does not allow
    ├── WaitTimeoutError               (also TimeoutError) a wait or a lock not over in time
    ├── MissingFileError               (also FileNotFoundError) a file or folder that is not there
    ├── ModuleImportError              (also ImportError) a module that cannot be imported as asked
    ├── UnsupportedError               (also NotImplementedError) a feature xpm_nb does not offer
    ├── WorkspaceError                 a path that is not a workspace, a layout problem
    ├── ResultsError                   (also ValueError) a bad source or option of results()
    ├── BadEvent                       (also ValueError) a bad record in a job's event file
    ├── LauncherSpecError              (also ValueError) a bad requirement expression
    ├── LaunchersFileError             the user's launchers file (or config folder) cannot be used
    ├── LauncherNotFoundError          no launcher fits the requirements
    ├── SubmissionError                a cluster refused a job (sbatch's error and the command)
    ├── ExperimentFileError            (also ValueError) a bad experiment YAML file or override
    ├── FilterSyntaxError              (also ValueError) a job filter that cannot be parsed
    ├── DirtyGitError                  uncommitted changes with dirty_git=error
    ├── DocumentationError             (also AssertionError) undocumented configurations
    ├── ServiceError                   (also RuntimeError) a service or monitoring page not starting
    ├── ConnectorError                 a host that cannot be reached or used (SSH)
    │   ├── HostKeyError               an unknown or changed SSH host key
    │   └── AgentError                 (also RuntimeError) the remote agent answered an error
    └── JobError                       a job did not succeed
        └── JobFailedError             the job (or one it depends on) failed
            ├── DependencyFailedError  a dependency failed, so the job never ran
            └── FailedExperiment       jobs of an experiment failed (xp.raise_if_failed)

``GracefulTimeout`` is not an error of xpm_nb but a signal raised by user code in
a resumable task; it derives from ``Exception`` as in the reference.

Some classes are also built-in exceptions, so that code catching those (as
Python or the reference would raise them) keeps working. Classes the reference
places elsewhere are re-exported there (``LauncherNotFoundError`` from
``launcherfinder.registry``, ``FailedExperiment`` from ``scheduler.experiment``).

Messages say what was received, what was expected and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "XPMError",
    "SubmissionError",
    "ConfigError",
    "UnknownFieldError",
    "FieldTypeError",
    "MissingFieldError",
    "UnsetFieldError",
    "ConstantFieldError",
    "SealedConfigError",
    "GeneratedValueError",
    "DeclarationError",
    "IdentifierError",
    "SerializationError",
    "DestinationUsedError",
    "DefinitionNotFoundError",
    "InvalidArgumentError",
    "InvalidTypeError",
    "StateError",
    "WaitTimeoutError",
    "MissingFileError",
    "ModuleImportError",
    "UnsupportedError",
    "WorkspaceError",
    "ResultsError",
    "BadEvent",
    "LauncherSpecError",
    "LaunchersFileError",
    "LauncherNotFoundError",
    "ExperimentFileError",
    "FilterSyntaxError",
    "DirtyGitError",
    "DocumentationError",
    "ServiceError",
    "ConnectorError",
    "HostKeyError",
    "AgentError",
    "JobError",
    "JobFailedError",
    "DependencyFailedError",
    "FailedExperiment",
    "GracefulTimeout",
]


class XPMError(Exception):
    """Base class of every error raised by xpm_nb."""


class ConfigError(XPMError):
    """A configuration could not be built or changed."""


class UnknownFieldError(ConfigError, ValueError):
    """A keyword argument that the configuration class does not declare."""


class FieldTypeError(ConfigError, TypeError, ValueError):
    """A field value of the wrong type, or one that does not convert losslessly to it.

    Also a ``ValueError``, as the reference raises for a value it cannot convert.
    """


class MissingFieldError(ConfigError, ValueError):
    """A required field without a value when the configuration is sealed."""


class UnsetFieldError(ConfigError, AttributeError, KeyError):
    """A field read before it was given a value.

    Also a ``KeyError``, as the reference raises for an unset parameter
    (datamaestro catches ``KeyError`` there)."""


class ConstantFieldError(ConfigError, AttributeError):
    """An attempt to write a Constant field."""


class SealedConfigError(ConfigError, AttributeError):
    """An attempt to change a sealed (submitted) configuration."""


class GeneratedValueError(ConfigError, AttributeError):
    """A value holding paths generated for another task's job folder (they would be shared)."""


class DeclarationError(ConfigError, TypeError):
    """A configuration class whose declaration cannot work."""


class IdentifierError(XPMError, ValueError):
    """A value that the identifier byte format cannot encode."""


class SerializationError(XPMError):
    """A definition file that cannot be read or written."""


class DestinationUsedError(SerializationError, ValueError):
    """``SerializationContext.serialize`` to a destination already used (also ValueError)."""


class DefinitionNotFoundError(SerializationError, FileNotFoundError):
    """No definition file (``experimaestro.json``, ``params.json``...) where one is expected."""


class InvalidArgumentError(XPMError, ValueError):
    """An argument, option or setting (keyword, command-line option, environment
    variable) whose value cannot be used."""


class InvalidTypeError(XPMError, TypeError):
    """A value of a type the call cannot take (outside configuration fields,
    which raise :class:`FieldTypeError`)."""


class StateError(XPMError, RuntimeError):
    """A call the current state does not allow: no experiment open, a job never
    submitted or already done, a blocking wait on the scheduler's own thread."""


class WaitTimeoutError(XPMError, TimeoutError):
    """A wait (for jobs, a lock, an answer) not over within its timeout; what was
    awaited goes on."""


class MissingFileError(XPMError, FileNotFoundError):
    """A file or folder that should be there and is not (outside definition
    files, which raise :class:`DefinitionNotFoundError`)."""


class ModuleImportError(XPMError, ImportError):
    """A module that cannot be imported as asked (an optional dependency missing,
    experimaestro imported before xpm_nb's stand-in)."""


class UnsupportedError(XPMError, NotImplementedError):
    """A feature of the reference that xpm_nb does not offer."""


class WorkspaceError(XPMError):
    """A folder that is not a workspace, or a workspace layout problem."""


class ResultsError(XPMError, ValueError):
    """A source or an option of ``results()`` that cannot be used."""


class BadEvent(XPMError, ValueError):
    """An event record (a job's event or task-output file) of the wrong shape (skipped)."""


class LauncherSpecError(XPMError, ValueError):
    """A requirement expression that cannot be parsed."""


class LaunchersFileError(XPMError):
    """The user's launchers file (``launchers.yaml``/``.py``) or configuration folder
    that cannot be used; the message names the file and line."""


class LauncherNotFoundError(XPMError):
    """``find_launcher``: no launcher fits the requirements (and tags)."""

    # Named where the reference places it (launcherfinder.registry re-exports it).
    __module__ = "xpm_nb.launcherfinder.registry"


class ExperimentFileError(XPMError, ValueError):
    """An experiment YAML file, override or run function that cannot be used (names file:line)."""


class FilterSyntaxError(XPMError, ValueError):
    """A job filter expression that cannot be parsed (the message shows where)."""


class DirtyGitError(XPMError):
    """The experiment's code has uncommitted changes and ``dirty_git`` is ``error``."""


class DocumentationError(XPMError, AssertionError):
    """Configurations missing from (or only in) the documentation
    (``DocumentationAnalyzer``; an ``AssertionError`` as in the reference)."""


class ServiceError(XPMError, RuntimeError):
    """A service (or the monitoring page) that cannot start, or a service stopping
    when its URL is asked."""


class ConnectorError(XPMError):
    """A host that cannot be reached or used (connection, authentication, remote command)."""


class HostKeyError(ConnectorError):
    """An SSH server whose host key is unknown (not in known_hosts) or has changed."""


class AgentError(ConnectorError, RuntimeError):
    """The remote agent of an SSH connection answered with an error (a bad
    request, a remote OSError)."""


class JobError(XPMError):
    """A job that did not succeed."""


class JobFailedError(JobError):
    """A job failed; the message gives its state, reason and log paths."""


class DependencyFailedError(JobFailedError):
    """A job did not run because a job it depends on failed."""


class FailedExperiment(JobFailedError):
    """Some jobs of the experiment failed; the message lists them with their logs."""


class GracefulTimeout(Exception):
    """Raised by a resumable task to stop before its time limit and be retried."""

    def __init__(self, message: str = "Task stopped gracefully before timeout"):
        super().__init__(message)
        self.message = message


def add_note(error: BaseException, note: str) -> None:
    """``error.add_note(note)`` (Python 3.11+); on 3.10 the note is kept in ``__notes__``."""
    if hasattr(error, "add_note"):
        error.add_note(note)
    else:
        error.__notes__ = [*getattr(error, "__notes__", []), note]


class SubmissionError(XPMError):
    """A cluster refused a job: its error, the command, and what to fix."""
