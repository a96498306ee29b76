"""SlurmOptions, SlurmLauncher configuration, and reading SLURM's output (no cluster needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from xpm_nb.errors import XPMError
from xpm_nb.launchers.slurm import SlurmLauncher, SlurmOptions, parse_time
from xpm_nb.launchers.slurm.commands import SlurmStatus, exit_of, parse_sacct, parse_squeue

REFERENCE_FIELDS = ["nodes", "time", "account", "qos", "partition", "constraint", "mem",
                    "exclude", "mem_per_gpu", "cpus_per_task", "nodelist", "ntasks_per_node",
                    "gpus", "gpus_per_node"]


class TestOptions:
    def test_fields_of_the_reference(self):
        """Every field of the reference's SlurmOptions, with nodes=1 by default."""
        import dataclasses

        assert [f.name for f in dataclasses.fields(SlurmOptions)] == REFERENCE_FIELDS
        assert SlurmOptions().nodes == 1
        assert SlurmOptions().args() == ["--nodes=1"]

    def test_args(self):
        """Each set field becomes one --long-option (underscores become dashes)."""
        options = SlurmOptions(nodes=2, time="4:00:00", account="team", qos="long",
                               partition="gpu", constraint="v100|a100", mem="16G",
                               exclude="n1,n2", mem_per_gpu="20G", cpus_per_task=8,
                               nodelist="n3", ntasks_per_node=1, gpus=2, gpus_per_node=2)
        assert options.args() == [
            "--nodes=2", "--time=4:00:00", "--account=team", "--qos=long", "--partition=gpu",
            "--constraint=v100|a100", "--mem=16G", "--exclude=n1,n2", "--mem-per-gpu=20G",
            "--cpus-per-task=8", "--nodelist=n3", "--ntasks-per-node=1", "--gpus=2",
            "--gpus-per-node=2"]
        assert SlurmOptions(nodes=None).args() == []

    @pytest.mark.parametrize(("seconds", "text"), [
        (0, "0:00:00"), (59, "0:00:59"), (60, "0:01:00"), (3600, "1:00:00"),
        (86399, "23:59:59"), (86400, "1-00:00:00"), (93784, "1-02:03:04"),
        (10.2, "0:00:11"),  # rounded up: a job never gets less than asked
    ])
    def test_format_time(self, seconds, text):
        assert SlurmOptions.format_time(seconds) == text
        assert parse_time(text) == -(-seconds // 1)

    @pytest.mark.parametrize(("text", "seconds"), [
        ("30", 1800), ("30:15", 1815), ("1:30:00", 5400), ("2-12", 216000),
        ("2-12:30", 217800), ("2-12:30:05", 217805), (" 5 ", 300),
    ])
    def test_parse_time(self, text, seconds):
        """SLURM's --time formats (minutes alone, m:s, h:m:s, d-h, d-h:m, d-h:m:s)."""
        assert parse_time(text) == seconds
        assert SlurmOptions(time=text).time_seconds() == seconds

    @pytest.mark.parametrize(("kwargs", "words"), [
        ({"time": "4h"}, "SlurmOptions.time: cannot read '4h'"),
        ({"nodes": -1}, "SlurmOptions.nodes: expected a non-negative int"),
        ({"gpus": "2"}, "SlurmOptions.gpus: expected a non-negative int"),
        ({"partition": ""}, "SlurmOptions.partition: expected a non-empty str"),
        ({"mem": 1.5}, "SlurmOptions.mem: expected a non-empty str"),
    ])
    def test_bad_values(self, kwargs, words):
        """A bad value fails at once, naming the field (not later in sbatch)."""
        with pytest.raises(XPMError, match=words.replace("(", r"\(")):
            SlurmOptions(**kwargs)

    def test_ints_accepted_for_string_fields(self):
        assert SlurmOptions(cpus_per_task=4).cpus_per_task == "4"


class TestLauncher:
    def test_config_returns_a_new_launcher(self):
        """config(**kwargs) changes options on a copy; the original is unchanged."""
        base = SlurmLauncher(options=SlurmOptions(partition="gpu", time="1:00:00"),
                             interval=5, launcherenv={"SLURM_CONF": "/x"}, binpath="/opt/slurm/bin")
        base.setenv("A", "1")
        other = base.config(time="4:00:00", gpus_per_node=2)
        assert other is not base
        assert other.options == SlurmOptions(partition="gpu", time="4:00:00", gpus_per_node=2)
        assert base.options.time == "1:00:00"
        assert (other.interval, other.launcherenv, other.binpath) == (5, {"SLURM_CONF": "/x"},
                                                                      "/opt/slurm/bin")
        assert other.environ == {"A": "1"}
        assert other.key == base.key  # the same cluster: one poller for both

    def test_binpath_str_or_path(self):
        """binpath may be a Path (the reference's type hint) as well as a str."""
        from_path = SlurmLauncher(binpath=Path("/opt/slurm/bin"))
        from_str = SlurmLauncher(binpath="/opt/slurm/bin")
        assert from_path.binpath == "/opt/slurm/bin" and isinstance(from_path.binpath, str)
        assert from_path.runner._argv("sbatch", ["--parsable"]) == [
            "/opt/slurm/bin/sbatch", "--parsable"]
        assert from_path.key == from_str.key  # the same cluster: one poller
        assert from_path.config(time="1:00:00").binpath == "/opt/slurm/bin"
        assert from_path.binpath + "/sbatch" == "/opt/slurm/bin/sbatch"  # str operations work
        with pytest.raises(XPMError, match="binpath"):
            SlurmLauncher(binpath=42)

    def test_config_unknown_option_suggests(self):
        with pytest.raises(XPMError, match="no field 'partiton'.*Did you mean 'partition'"):
            SlurmLauncher().config(partiton="gpu")

    @pytest.mark.parametrize(("kwargs", "words"), [
        ({"options": {"partition": "gpu"}}, "expected a SlurmOptions"),
        ({"interval": 0}, "expected seconds > 0"),
    ])
    def test_bad_arguments(self, kwargs, words):
        with pytest.raises(XPMError, match=words):
            SlurmLauncher(**kwargs)


class TestOutputParsing:
    def test_squeue(self):
        """squeue -O JobID,State,Reason,exit_code,TimeLeft: the exit code is a wait status."""
        text = ("12|PENDING|Resources|0|1:00|\n"
                "13|FAILED|NonZeroExitCode|768|UNLIMITED|\n"
                "14|CANCELLED|None|15|0:54|\n"
                "15|COMPLETING|None|0|0:10|\n")
        got = parse_squeue(text)
        assert got["12"].pending and not got["12"].final
        assert got["13"] == SlurmStatus("13", "FAILED", "NonZeroExitCode", 3, "UNLIMITED")
        assert got["14"].exit_code == -15 and got["14"].final
        assert not got["15"].final and not got["15"].pending

    def test_sacct(self):
        """sacct -P: ExitCode is code:signal; 'CANCELLED by 0' is CANCELLED."""
        text = "20|COMPLETED|0:0|None\n21|FAILED|3:0|None\n22|CANCELLED by 0|0:15|None\n23|TIMEOUT|0:0|\n"
        got = parse_sacct(text)
        assert [got[j].state for j in ("20", "21", "22", "23")] == [
            "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"]
        assert (got["21"].exit_code, got["22"].exit_code) == (3, -15)

    # (state, exit code, reason words, timeout?, ended by SLURM?)
    EXITS = [
        ("COMPLETED", 0, None, False, False),
        ("FAILED", 3, "exit code 3 (SLURM job 7 FAILED)", False, False),
        ("FAILED", -9, "signal 9 (SLURM job 7 FAILED)", False, False),
        ("TIMEOUT", -15, "timeout: SLURM job 7 reached its time limit", True, True),
        ("CANCELLED", -15, "cancelled: SLURM job 7 was cancelled outside xpm_nb", False, True),
        ("OUT_OF_MEMORY", -9, "out of memory: SLURM job 7", False, True),
        ("NODE_FAIL", None, "node failure: a node of SLURM job 7 failed", False, True),
        ("PREEMPTED", -15, "preempted", False, True),
        ("DEADLINE", None, "deadline", False, True),
        ("BOOT_FAIL", None, "SLURM job 7 ended BOOT_FAIL", False, True),
    ]

    @pytest.mark.parametrize(("state", "code", "words", "timeout", "by_slurm"), EXITS,
                             ids=[e[0] + str(e[1]) for e in EXITS])
    def test_exit_reasons(self, state, code, words, timeout, by_slurm):
        """SLURM's final states map onto an exit code, a reason and the retry flag."""
        result = exit_of(SlurmStatus("7", state, "", code))
        assert result.code == code
        assert result.timeout is timeout and result.by_launcher is by_slurm
        if words is None:
            assert result.reason is None
        else:
            assert words in result.reason

    def test_cancelled_by_us(self):
        assert exit_of(SlurmStatus("7", "CANCELLED", "", -15), cancelled_by_us=True).reason == "cancelled"
