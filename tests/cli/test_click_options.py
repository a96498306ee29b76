"""``xpm_nb.click.forwardoption``: configuration fields as click options."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import pytest

click = pytest.importorskip("click")
from click.testing import CliRunner  # noqa: E402

from xpm_nb import Config, Param, Task, field  # noqa: E402
from xpm_nb.core.arguments import help as field_help  # noqa: E402
from xpm_nb.errors import ConfigError  # noqa: E402


class Kind(enum.Enum):
    MLP = "mlp"
    CNN = "cnn"


class Optimizer(Config):
    epsilon: Annotated[Param[float], field_help("numerical stability term")] = field(default=1e-8)
    kind: Param[Kind] = field(default=Kind.MLP)


class Learner(Task):
    optimizer: Param[Optimizer]
    max_epochs: Param[int] = field(default=10)
    output: Param[Path]
    use_cuda: Param[bool] = field(default=False)


def _command():
    from xpm_nb.click import forwardoption

    @click.command()
    @forwardoption.max_epochs(Learner)
    @forwardoption.optimizer.epsilon(Learner, "eps")
    @forwardoption.optimizer.kind(Learner)
    @forwardoption.use_cuda(Learner)
    @forwardoption.output(Learner, default="out")
    def main(max_epochs, eps, kind, use_cuda, output):
        click.echo(repr((max_epochs, eps, kind, use_cuda, output)))

    return main


def test_defaults_and_types_come_from_the_fields():
    result = CliRunner().invoke(_command(), [])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == repr((10, 1e-08, "MLP", False, Path("out")))


def test_values_are_converted():
    args = ["--max-epochs", "3", "--eps", "0.5", "--kind", "CNN", "--use-cuda", "true",
            "--output", "/tmp/x"]
    result = CliRunner().invoke(_command(), args)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == repr((3, 0.5, "CNN", True, Path("/tmp/x")))


def test_bad_value_is_refused_by_click():
    result = CliRunner().invoke(_command(), ["--max-epochs", "many"])
    assert result.exit_code == 2
    assert "'many' is not a valid integer" in result.output


def test_help_shows_field_help_and_default():
    result = CliRunner().invoke(_command(), ["--help"])
    assert "numerical stability term" in result.output
    assert "--max-epochs INTEGER" in result.output and "default: 10" in result.output


def test_unknown_field_names_the_class_and_its_fields():
    from xpm_nb.click import forwardoption

    with pytest.raises(ConfigError, match="Optimizer has no field 'epsilom'. Its fields are: "
                                          "epsilon, kind"):
        forwardoption.optimizer.epsilom(Learner)
    with pytest.raises(ConfigError, match="max_epochs is not a configuration"):
        forwardoption.max_epochs.value(Learner)

