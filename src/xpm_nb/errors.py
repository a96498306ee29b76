"""The exception tree of xpm_nb.

Every error xpm_nb raises on purpose is one of these::

    XPMError
    ├── ConfigError                    building or changing a configuration
    │   ├── UnknownFieldError          (also ValueError) a keyword the class does not declare
    │   ├── FieldTypeError             (also TypeError, ValueError) a value of the wrong type
    │   ├── MissingFieldError          (also ValueError) a required field unset at seal time
    │   ├── UnsetFieldError            (also AttributeError, KeyError) reading a field not set yet
    │   ├── ConstantFieldError         (also AttributeError) writing a Constant
    │   ├── SealedConfigError          (also AttributeError) changing a sealed config
    │   └── DeclarationError           (also TypeError)  a class declaration that cannot work
    ├── IdentifierError                (also ValueError) a value the identifier cannot encode
    ├── SerializationError             a params/definition file that cannot be read or written
    │   ├── DestinationUsedError       (also ValueError) a data path destination used twice
    │   └── DefinitionNotFoundError    (also FileNotFoundError) no definition/params file there
    ├── WorkspaceError                 a path that is not a workspace, a layout problem
    ├── ResultsError                   (also ValueError) a bad source or option of results()
    ├── LauncherSpecError              (also ValueError) a bad requirement expression
    ├── ExperimentFileError            (also ValueError) an experiment YAML file or override (file:line)
    ├── DirtyGitError                  uncommitted changes with dirty_git=error
    ├── ConnectorError                 a host that cannot be reached or used (SSH)
    │   └── HostKeyError               an unknown or changed SSH host key
    └── JobError                       a job did not succeed
        ├── JobFailedError             the job (or one it depends on) failed
        └── DependencyFailedError      a dependency failed, so the job never ran

``GracefulTimeout`` is not an error of xpm_nb but a signal raised by user code in
a resumable task; it derives from ``Exception`` as in the reference.

Messages say what was received, what was expected and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "XPMError",
    "ConfigError",
    "UnknownFieldError",
    "FieldTypeError",
    "MissingFieldError",
    "UnsetFieldError",
    "ConstantFieldError",
    "SealedConfigError",
    "DeclarationError",
    "IdentifierError",
    "SerializationError",
    "DestinationUsedError",
    "DefinitionNotFoundError",
    "WorkspaceError",
    "ResultsError",
    "LauncherSpecError",
    "ExperimentFileError",
    "DirtyGitError",
    "ConnectorError",
    "HostKeyError",
    "JobError",
    "JobFailedError",
    "DependencyFailedError",
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


class WorkspaceError(XPMError):
    """A folder that is not a workspace, or a workspace layout problem."""


class ResultsError(XPMError, ValueError):
    """A source or an option of ``results()`` that cannot be used."""


class LauncherSpecError(XPMError, ValueError):
    """A requirement expression that cannot be parsed."""


class ExperimentFileError(XPMError, ValueError):
    """An experiment YAML file, override or run function that cannot be used (names file:line)."""


class DirtyGitError(XPMError):
    """The experiment's code has uncommitted changes and ``dirty_git`` is ``error``."""


class ConnectorError(XPMError):
    """A host that cannot be reached or used (connection, authentication, remote command)."""


class HostKeyError(ConnectorError):
    """An SSH server whose host key is unknown (not in known_hosts) or has changed."""


class JobError(XPMError):
    """A job that did not succeed."""


class JobFailedError(JobError):
    """A job failed; the message gives its state, reason and log paths."""


class DependencyFailedError(JobFailedError):
    """A job did not run because a job it depends on failed."""


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
