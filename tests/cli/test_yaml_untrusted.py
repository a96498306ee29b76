"""Experiment files and names as untrusted input (issue #18): alias bombs, alias
cycles and deep nesting give an ExperimentFileError naming the file and line (not a
read that never ends); experiment ids that are not one folder name are refused;
the listings escape control characters."""

from __future__ import annotations

import time

import pytest

from xpm_nb.cli import _printable
from xpm_nb.errors import ExperimentFileError
from xpm_nb.experiments.yamlfile import load_sources

from .helpers import run_cli

BOMB = "id: bomb\nfile: x.py\na: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n" + "".join(
    f"{n}: &{n} [{','.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi"))


def test_alias_bomb_is_refused_quickly(tmp_path):
    """The 'billion laughs' (9 levels of 9 aliases, under 500 bytes)."""
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    assert len(BOMB) < 500
    start = time.monotonic()
    with pytest.raises(ExperimentFileError, match="alias") as info:
        load_sources(path)
    assert time.monotonic() - start < 5
    assert f"{path}:" in str(info.value) and "Fix" in str(info.value)


def test_alias_cycle_is_refused(tmp_path):
    path = tmp_path / "cycle.yaml"
    path.write_text("id: x\na: &a [1, *a]\n")
    with pytest.raises(ExperimentFileError, match=r"cycle.yaml:2: .*cycle"):
        load_sources(path)


def test_deep_nesting_is_an_error_not_a_traceback(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("id: x\na: " + "[" * 3000 + "]" * 3000 + "\n")
    with pytest.raises(ExperimentFileError, match="nested too deeply"):
        load_sources(path)


def test_shared_aliases_within_the_bound_are_read(tmp_path):
    """Aliases are fine when their expansion is small."""
    path = tmp_path / "ok.yaml"
    path.write_text("id: x\nbase: &b {lr: 0.1, steps: 3}\nmodel: {<<: *b, h: 2}\nother: *b\n")
    values = load_sources(path).values
    assert values["model"] == {"lr": 0.1, "steps": 3, "h": 2} and values["other"]["steps"] == 3


@pytest.mark.parametrize("name", ["..", ".", "a/b", "red\x1b[31m", "nul\x00x"])
def test_experiment_ids_that_are_not_a_folder_name_are_refused(project, name):
    """`id` names a folder of WS/experiments: `.`, `..`, `/`, NUL and control
    characters are refused with the file, line and fix (exit 2), before anything runs."""
    exp = project / "exp.yaml"
    text = exp.read_text()
    lines = [f"id: {name!r}" if line.startswith("id:") else line for line in text.splitlines()]
    if "\x00" in name or "\x1b" in name:  # YAML forbids them raw: a double-quoted escape
        lines = [f'id: "{name.encode("unicode_escape").decode()}"' if line.startswith("id:")
                 else line for line in lines]
    exp.write_text("\n".join(lines) + "\n")
    proc = run_cli("run-experiment", exp, "--show")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"{exp}:" in proc.stderr and "Fix" in proc.stderr


def test_printable_escapes_terminal_controls():
    assert _printable("a\x1b[31mb\x07\x9b") == "a\\x1b[31mb\\x07\\x9b"
    assert _printable("x\udcffy") == "x\\xffy"  # a non-UTF-8 file name byte
    assert _printable("\u202eevil") == "\\u202eevil"
    assert _printable("héllo wörld") == "héllo wörld"
