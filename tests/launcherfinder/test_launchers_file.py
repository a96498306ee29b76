"""find_launcher over the user's launchers file (YAML or Python)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from xpm_nb.errors import LauncherSpecError, XPMError
from xpm_nb.launcherfinder import (
    LauncherNotFoundError,
    config_dir,
    find_launcher,
    launchers_file,
)
from xpm_nb.launcherfinder import registry as registry_module
from xpm_nb.launcherfinder.registry import LauncherRegistry
from xpm_nb.launchers.direct import DirectLauncher
from xpm_nb.launchers.slurm import SlurmLauncher

YAML = """\
- name: workstation
  type: direct
  tags: [local]
  hosts:
    - cpu: {cores: 16, memory: 64GiB}
      accelerators: [{type: cuda, model: RTX 4090, memory: 24GiB}]
      priority: -1
- name: cluster
  type: slurm
  tags: [cluster, gpu]
  launcherenv: {SLURM_CONF: /etc/slurm/test.conf}
  interval: 30
  options: {account: team}
  hosts:
    - name: v100
      options: {partition: gpu, constraint: v100}
      cpu: {cores: 40, memory: 192GiB, cpu_per_gpu: 10}
      accelerators: [{type: cuda, model: V100, memory: 32GiB, count: 4}]
      max_duration: 20h
      min_gpu: 1
      priority: 10
    - name: cpu
      options: {partition: cpu}
      cpu: {cores: 64, memory: 256GiB, mem_per_cpu: 4GiB}
      max_duration: 2d
"""


@pytest.fixture
def confdir(tmp_path, monkeypatch):
    folder = tmp_path / "conf"
    folder.mkdir()
    monkeypatch.setenv("XPM_NB_CONFIG_DIR", str(folder))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.config/experimaestro
    return folder


def write(folder, name, text):
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


class TestYaml:
    # (requirement, tags, expected launcher: "direct" or the SLURM options it must carry)
    CASES = [
        # fits both; the cluster's V100 host has the higher priority
        ("duration=4h & cuda(mem=16GiB)", set(),
         {"partition": "gpu", "constraint": "v100", "account": "team", "time": "4:00:00",
          "gpus_per_node": 1, "cpus_per_task": "10"}),
        # only the workstation when asked by tag
        ("duration=4h & cuda(mem=16GiB)", {"local"}, "direct"),
        # too long for the V100s, the CPU partition has no GPU, the workstation has no limit
        ("duration=30h & cuda(mem=16GiB)", set(), "direct"),
        # memory per core sets the cores; memory in MiB
        ("duration=1d & cpu(mem=16GiB)", {"cluster"},
         {"partition": "cpu", "time": "1-00:00:00", "cpus_per_task": "4", "mem": "16384M"}),
        # min_gpu keeps CPU jobs off the GPU host, and the workstation is lower priority
        ("cpu(cores=2)", {"cluster"}, {"partition": "cpu", "cpus_per_task": "2"}),
        # two alternatives: the first fits nowhere, the second on the V100s
        ("cuda(mem=80GiB) | cuda(mem=30GiB) * 2", set(),
         {"partition": "gpu", "gpus_per_node": 2, "cpus_per_task": "20"}),
    ]

    @pytest.mark.parametrize(("expr", "tags", "expected"), CASES,
                             ids=[f"{c[0]} {sorted(c[1])}" for c in CASES])
    def test_find(self, confdir, expr, tags, expected):
        """The best host's launcher comes back, configured for the request."""
        write(confdir, "launchers.yaml", YAML)
        launcher = find_launcher(expr, tags=tags)
        if expected == "direct":
            assert isinstance(launcher, DirectLauncher)
            return
        assert isinstance(launcher, SlurmLauncher)
        for key, value in expected.items():
            assert getattr(launcher.options, key) == value, key
        assert launcher.launcherenv == {"SLURM_CONF": "/etc/slurm/test.conf"}
        assert launcher.interval == 30

    def test_nothing_fits(self, confdir):
        """LauncherNotFoundError (not None) when no host of the tagged launchers fits."""
        write(confdir, "launchers.yaml", YAML)
        with pytest.raises(LauncherNotFoundError, match="cuda"):
            find_launcher("cuda(mem=100GiB)")
        with pytest.raises(LauncherNotFoundError, match="nosuchtag"):
            find_launcher("cuda(mem=8GiB)", tags={"nosuchtag"})

    def test_several_specs_in_order(self, confdir):
        """Specifications are tried in order; parsed objects are accepted too."""
        from xpm_nb.launcherfinder import parse

        write(confdir, "launchers.yaml", YAML)
        launcher = find_launcher("cuda(mem=100GiB)", parse("cpu(cores=1)"), tags={"cluster"})
        assert launcher.options.partition == "cpu"

    def test_file_is_reread_when_changed(self, confdir):
        path = write(confdir, "launchers.yaml", YAML)
        assert isinstance(find_launcher("cpu(cores=1)", tags={"local"}), DirectLauncher)
        path.write_text("- {type: direct, tags: [other]}\n")
        import os

        os.utime(path, (1, 1))  # a different mtime even within the same second
        with pytest.raises(LauncherNotFoundError):
            find_launcher("cpu(cores=1)", tags={"local"})
        assert isinstance(find_launcher("cpu(cores=1)", tags={"other"}), DirectLauncher)

    BAD = [
        ("- {type: pbs}\n", "1", "unknown launcher type 'pbs'"),
        ("- name: x\n  type: direct\n  hosts:\n    - cpu: {cores: 2, ram: 4G}\n", "4",
         "unknown key(s) 'ram' in cpu"),
        ("- name: x\n  hosts:\n    - max_duration: 4 weeks\n", "3", "duration unit"),
        ("- name: x\n  hosts:\n    - cpu: {memory: 12}\n", "3", "size unit"),
        ("- name: x\n  type: slurm\n  options: {partitoin: gpu}\n", "1", "partitoin"),
        ("- name: x\n  type: slurm\n  hosts:\n    - options: {gpu: 2}\n", "", "'gpu'"),
        ("- name: x\n  hosts:\n    - accelerators: [{type: tpu}]\n", "3", "unknown accelerator type"),
        ("- name: x\n  type: direct\n  options: {partition: gpu}\n", "1", "only for type: slurm"),
        ("name: x\n", "", "expected a list of launchers"),
        ("- name: [unclosed\n", "", "not valid YAML"),
    ]

    @pytest.mark.parametrize(("text", "line", "words"), BAD, ids=[b[2] for b in BAD])
    def test_bad_file(self, confdir, text, line, words):
        """A bad file fails with its path, the line, and what is wrong."""
        path = write(confdir, "launchers.yaml", text)
        with pytest.raises(XPMError) as info:
            find_launcher("cpu()")
        message = str(info.value)
        assert str(path) in message and words in message
        if line:
            assert f"{path}:{line}:" in message


class TestPython:
    def test_launchers_list(self, confdir):
        """launchers.py may declare LAUNCHERS as objects."""
        write(confdir, "launchers.py", """\
            from xpm_nb.launcherfinder import (CPUSpecification, CudaSpecification, Host,
                                               HostSpecification, LauncherEntry)
            from xpm_nb.launchers.slurm import SlurmLauncher, SlurmOptions

            GiB = 1024**3
            LAUNCHERS = [LauncherEntry(
                SlurmLauncher(options=SlurmOptions(qos="long")), tags={"cluster"},
                hosts=[Host(HostSpecification(cuda=[CudaSpecification(memory=40 * GiB)] * 8,
                                              cpu=CPUSpecification(cores=128)),
                            options={"partition": "a100"})])]
        """)
        launcher = find_launcher("duration=2h & cuda(mem=40GiB) * 8")
        assert launcher.options.partition == "a100" and launcher.options.qos == "long"
        assert launcher.options.gpus_per_node == 8
        with pytest.raises(LauncherNotFoundError):
            find_launcher("cuda(mem=40GiB) * 9")

    def test_function(self, confdir):
        """launchers.py may define find_launcher(requirement, tags) for full control."""
        write(confdir, "launchers.py", """\
            from xpm_nb.launchers.direct import DirectLauncher

            def find_launcher(requirement, tags):
                if "local" in tags and all(not r.accelerators for r in requirement.requirements):
                    return DirectLauncher()
                return None
        """)
        assert isinstance(find_launcher("cpu(cores=2)", tags={"local"}), DirectLauncher)
        with pytest.raises(LauncherNotFoundError):
            find_launcher("cuda()", tags={"local"})
        with pytest.raises(LauncherNotFoundError):
            find_launcher("cpu(cores=2)")

    def test_function_called_as_the_reference_does(self, confdir):
        """find_launcher(requirement, tags): one call per specification, with its
        parsed RequirementUnion and the tags as a set."""
        write(confdir, "launchers.py", """\
            from xpm_nb.launchers.direct import DirectLauncher

            CALLS = []

            def find_launcher(requirement, tags):
                CALLS.append((requirement, tags))
                return DirectLauncher() if len(CALLS) == 2 else None
        """)
        from xpm_nb.launcherfinder import RequirementUnion, parse

        assert isinstance(find_launcher("cuda(mem=8GiB) | cpu(cores=2)", "cpu(cores=1)",
                                        tags={"local"}), DirectLauncher)
        cached = registry_module._CACHE[confdir / "launchers.py"][1]
        recorded = cached.function.__globals__["CALLS"]
        assert [type(r) for r, _ in recorded] == [RequirementUnion, RequirementUnion]
        assert recorded[0][0] == parse("cuda(mem=8GiB) | cpu(cores=2)")
        assert recorded[1][0] == parse("cpu(cores=1)")
        assert all(t == {"local"} and isinstance(t, set) for _, t in recorded)

    def test_python_file_needs_one_of_the_two(self, confdir):
        write(confdir, "launchers.py", "X = 1\n")
        with pytest.raises(XPMError, match="neither LAUNCHERS"):
            find_launcher("cpu()")

    def test_python_file_wins_over_yaml(self, confdir):
        write(confdir, "launchers.yaml", YAML)
        path = write(confdir, "launchers.py", "def find_launcher(r, t):\n    return None\n")
        assert launchers_file() == path
        with pytest.raises(LauncherNotFoundError):
            find_launcher("cpu()")


def test_launcher_not_found_error_as_in_the_reference():
    """Named and placed as in the reference (launcherfinder.registry), also exported
    from the package; an XPMError (so an Exception, as in the reference)."""
    from xpm_nb.launcherfinder.registry import LauncherNotFoundError as from_registry

    assert from_registry is LauncherNotFoundError
    assert LauncherNotFoundError.__module__ == "xpm_nb.launcherfinder.registry"
    assert issubclass(LauncherNotFoundError, XPMError)


class TestNoLaunchersFile:
    """Without a launchers file: this machine, when it satisfies the requirement."""

    real_local_host = staticmethod(registry_module.local_host)

    @pytest.fixture(autouse=True)
    def cpu_only_host(self, monkeypatch):
        from xpm_nb.launcherfinder import CPUSpecification, HostSpecification

        host = HostSpecification(cpu=CPUSpecification(cores=4, memory=16 * 1024**3))
        monkeypatch.setattr(registry_module, "local_host", lambda: host)
        return host

    def test_falls_back_to_the_local_host(self, confdir):
        assert launchers_file() is None
        assert isinstance(find_launcher("cpu(cores=2)"), DirectLauncher)
        assert isinstance(find_launcher("duration=4h & cpu(mem=1GiB)"), DirectLauncher)
        # the first fitting alternative/specification wins
        assert isinstance(find_launcher("cuda(mem=8GiB) | cpu(cores=1)"), DirectLauncher)
        assert isinstance(find_launcher("cuda(mem=8GiB)", "cpu(cores=1)"), DirectLauncher)

    def test_gpu_job_does_not_run_on_a_cpu_host(self, confdir):
        with pytest.raises(LauncherNotFoundError) as info:
            find_launcher("cuda(mem=8GiB)")
        assert str(confdir / "launchers.yaml") in str(info.value)  # says where to write
        with pytest.raises(LauncherNotFoundError):
            find_launcher("cpu(cores=64)")

    def test_gpu_host_is_used_for_gpu_job(self, confdir, monkeypatch):
        from xpm_nb.launcherfinder import CudaSpecification, HostSpecification

        gpu = HostSpecification(accelerators=[CudaSpecification(memory=24 * 1024**3)])
        monkeypatch.setattr(registry_module, "local_host", lambda: gpu)
        assert isinstance(find_launcher("cuda(mem=8GiB)"), DirectLauncher)

    def test_local_host_is_described(self):
        """local_host() (unpatched): this machine's cores, and memory when known."""
        import os

        host = self.real_local_host()
        assert host.cpu.cores == len(os.sched_getaffinity(0))
        assert host.cpu.memory >= 0 and host.max_duration == 0


class TestReferenceFolder:
    """~/.config/experimaestro (the reference's folder) when ours has no file."""

    def reffolder(self, confdir):
        import os

        folder = Path(os.environ["HOME"]) / ".config" / "experimaestro"
        folder.mkdir(parents=True)
        return folder

    def test_reference_launchers_py(self, confdir):
        folder = self.reffolder(confdir)
        path = write(folder, "launchers.py", """\
            from xpm_nb.launchers.direct import DirectLauncher

            def find_launcher(requirement, tags):
                if any(r.cuda_gpus for r in requirement.requirements):
                    return None
                return DirectLauncher()
        """)
        assert launchers_file() == path
        assert isinstance(find_launcher("cpu(cores=1)"), DirectLauncher)
        with pytest.raises(LauncherNotFoundError):
            find_launcher("cuda(mem=1GiB)")

    def test_reference_launchers_yaml(self, confdir):
        path = write(self.reffolder(confdir), "launchers.yaml", YAML)
        assert launchers_file() == path
        assert isinstance(find_launcher("cuda(mem=8GiB)", tags={"local"}), DirectLauncher)

    def test_ours_wins(self, confdir):
        write(self.reffolder(confdir), "launchers.yaml", YAML)
        ours = write(confdir, "launchers.yaml", "- {type: direct, tags: [mine]}\n")
        assert launchers_file() == ours


def test_config_dir_default(monkeypatch, tmp_path):
    """Without XPM_NB_CONFIG_DIR: $XDG_CONFIG_HOME/xpm_nb, else ~/.config/xpm_nb."""
    monkeypatch.delenv("XPM_NB_CONFIG_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert config_dir() == tmp_path / "xpm_nb"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert config_dir() == tmp_path / "home" / ".config" / "xpm_nb"


def test_bad_requirement_through_find_launcher(confdir):
    write(confdir, "launchers.yaml", YAML)
    with pytest.raises(LauncherSpecError, match="position 9"):
        find_launcher("duration=forever")


def test_registry_without_file():
    """A registry can be built in code (e.g. for a notebook)."""
    from xpm_nb.launcherfinder import Host, HostSpecification, LauncherEntry

    direct = DirectLauncher()
    registry = LauncherRegistry([LauncherEntry(direct, [Host(HostSpecification(max_duration=3600))])])
    assert registry.find("duration=1h") is direct
    assert registry.find("duration=2h") is None
