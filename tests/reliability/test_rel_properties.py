"""Fault 5: bad input, generated (hypothesis).

Configuration values of every kind into typed fields; random bytes (and random
JSON) in the files of a job folder and in a token file; YAML experiment files
and overrides; job filter expressions. Each input either works or gives the
documented error naming what is wrong, never another exception, and a bad
input writes nothing.
"""

from __future__ import annotations

import enum
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Literal, Optional

import attrs
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from relhelpers import isolated_env  # noqa: F401 - autouse fixture
from reltasks import Nop

from xpm_nb import Config, Param
from xpm_nb.core.params import from_objects, read_params, to_objects
from xpm_nb.errors import ConfigError, IdentifierError, SerializationError
from xpm_nb.experiments.configuration import ConfigurationBase, configuration

# Derandomized and without an example database: CI runs the same examples every
# time (a failure is a bug, never bad luck). To explore further, run with
# XPM_NB_HYPOTHESIS_EXAMPLES=5000 (and a new seed each run).
EXAMPLES = int(os.environ.get("XPM_NB_HYPOTHESIS_EXAMPLES", "150"))
EXPLORE = "XPM_NB_HYPOTHESIS_EXAMPLES" in os.environ
PROFILE = settings(max_examples=EXAMPLES, deadline=None, derandomize=not EXPLORE,
                   database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture,
                                          HealthCheck.too_slow])


class Color(enum.Enum):
    RED = 1
    GREEN = "g"


class Inner(Config):
    x: Param[int]


class Everything(Config):
    """One field of each kind of type."""

    i: Param[int]
    f: Param[float]
    s: Param[str]
    b: Param[bool]
    p: Param[Path]
    li: Param[list[int]]
    d: Param[dict[str, float]]
    o: Param[Optional[int]]
    e: Param[Color]
    lit: Param[Literal["a", "b", 3]]
    inner: Param[Inner]
    many: Param[list[Inner]]
    tags: Param[set[str]]


VALID = dict(i=1, f=0.5, s="s", b=True, p=Path("/x"), li=[1], d={"k": 1.0}, o=None,
             e=Color.RED, lit="a", inner=None, many=[], tags={"t"})

scalars = (st.none() | st.booleans() | st.integers() | st.integers(-2**70, 2**70)
           | st.floats() | st.text(max_size=20) | st.binary(max_size=10)
           | st.sampled_from(list(Color)) | st.builds(Path, st.text(max_size=10))
           | st.complex_numbers(allow_nan=False, max_magnitude=10))
values = st.recursive(
    scalars,
    lambda children: (st.lists(children, max_size=4) | st.tuples(children, children)
                      | st.dictionaries(st.text(max_size=5) | st.integers(), children, max_size=3)
                      | st.frozensets(st.integers() | st.text(max_size=4), max_size=3)
                      | st.builds(lambda x: Inner.C(x=x), st.integers(-5, 5))),
    max_leaves=8)


def _everything(**overrides):
    return Everything.C(**{**VALID, "inner": Inner.C(x=0), **overrides})


class TestConfigurationValues:
    @PROFILE
    @given(name=st.sampled_from(sorted(VALID)), value=values)
    @example(name="f", value=math.nan)
    @example(name="f", value=-0.0)
    @example(name="i", value=2**64)
    @example(name="i", value=True)
    @example(name="d", value={"k": math.inf})
    def test_any_value_is_accepted_with_a_stable_identifier_or_refused_naming_the_field(
            self, name, value):
        try:
            config = _everything(**{name: value})
        except ConfigError as exc:
            assert name in str(exc) and "Everything" in str(exc), str(exc)
            return
        try:
            identifier = config.__identifier__()
        except IdentifierError as exc:
            assert name in str(exc), str(exc)
            return
        again = _everything(**{name: value})
        assert again.__identifier__() == identifier, "identifier not stable"
        # Written to params.json and read back: the same configuration.
        objects, _ = to_objects(config)
        restored = from_objects(json.loads(json.dumps(objects)), None, None, {}, "test")
        assert restored.__identifier__() == identifier, f"{name}={value!r} changed on disk"

    def test_lone_surrogate_in_a_str_field(self):
        """A file name decoded with surrogateescape has no UTF-8 form, so no identifier
        (the reference fails in its identifier): refused at once, naming the field."""
        with pytest.raises(ConfigError) as info:
            _everything(s="name-\udcff")
        assert "Everything.s" in str(info.value) and "surrogate" in str(info.value)

    @PROFILE
    @given(name=st.text(min_size=1, max_size=12), value=values)
    def test_unknown_field_names_are_refused_naming_them(self, name, value):
        assume(name not in VALID)
        with pytest.raises(ConfigError) as info:
            _everything(**{name: value})
        assert repr(name) in str(info.value) or name in str(info.value)


# --- files of a job folder -------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["pid", "code", "reason", "host", "objects", "module",
                                       "type", "fields", "id", "task", "value", "workspace",
                                       "version", "init_tasks"]) | st.text(max_size=5),
                      children, max_size=5),
    max_leaves=12)
file_contents = (st.binary(max_size=200)
                 | json_values.map(lambda v: json.dumps(v).encode())
                 | st.builds(lambda n: b'{"pid": ' + str(n).encode() + b', "host"',
                             st.integers()))


def _job_folder(root: Path) -> tuple[Path, object]:
    from xpm_nb.scheduler.jobs import JobPaths

    folder = root / "jobs" / "reltasks.nop" / ("ab" * 32)
    (folder / ".experimaestro").mkdir(parents=True, exist_ok=True)
    return folder, JobPaths(folder, "nop")


def _names_a_pid(data: bytes) -> int | None:
    """The pid a .pid content names (any int), or None."""
    try:
        return int(json.loads(data)["pid"])
    except Exception:  # noqa: BLE001 - anything that names no pid
        return None


class TestWorkspaceFiles:
    @PROFILE
    @given(which=st.sampled_from(["params.json", "nop.failed", "nop.pid", "nop.done",
                                  ".experimaestro/status.json"]),
           data=file_contents)
    def test_random_file_content_gives_a_state_or_a_clear_error(self, which, data):
        """read_disk_state, the workspace listing and read_params on random bytes:
        a state, or SerializationError for params.json; never another exception."""
        from xpm_nb.experiments.workspace_jobs import workspace_jobs
        from xpm_nb.scheduler.jobs import JobState, read_disk_state
        from xpm_nb.scheduler.workspace import Workspace, WorkspaceSettings

        with tempfile.TemporaryDirectory() as root:
            folder, paths = _job_folder(Path(root))
            (folder / which).write_bytes(data)
            state, info = read_disk_state(paths)
            assert isinstance(info, dict)
            pid = _names_a_pid(data) if which == "nop.pid" else None
            if pid is not None and not 0 < pid < 2**31:
                assert state is None  # 0, -1 (a group, every process), huge: no process
            elif pid is not None:
                assert state in (None, JobState.RUNNING)  # a live or remote pid runs
            else:
                assert state in (None, JobState.DONE, JobState.ERROR)
            [listed] = workspace_jobs(Workspace(WorkspaceSettings(Path(root))))
            assert listed.state in ("done", "error", "running", "unscheduled", "waiting",
                                    "ready", "scheduled")
            if which == "params.json":
                with pytest.raises(SerializationError) as exc:
                    read_params(folder)
                assert "params.json" in str(exc.value)

    @PROFILE
    @given(data=json_values.map(lambda v: json.dumps(v).encode()))
    @example(data=b"null")
    def test_params_json_of_any_json_shape_is_read_or_refused_clearly(self, data):
        with tempfile.TemporaryDirectory() as root:
            folder, _ = _job_folder(Path(root))
            (folder / "params.json").write_bytes(data)
            try:
                read_params(folder)
            except SerializationError as exc:
                assert "params.json" in str(exc)

    @pytest.mark.parametrize("text", [
        "null", "[]", '"x"', '{"objects": 5}', '{"objects": [1]}',
        '{"objects": [{"module": "reltasks", "type": "Nop", "fields": []}]}',
        '{"objects": [{"module": "reltasks", "type": "Nop", "fields": {"i": '
        '{"type": "python", "value": 5}}}]}',
        '{"objects": [{"module": "os", "type": "path", "fields": {}}]}'])
    def test_params_json_of_the_wrong_shape_is_a_serialization_error(self, tmp_path, text):
        folder, _ = _job_folder(tmp_path)
        (folder / "params.json").write_text(text)
        with pytest.raises(SerializationError, match="params.json"):
            read_params(folder)

    @pytest.mark.parametrize("pid", [0, -1, 2**64])
    def test_pid_file_naming_no_process_is_not_running(self, tmp_path, pid):
        from xpm_nb.scheduler.jobs import JobState, read_disk_state

        folder, paths = _job_folder(tmp_path)
        paths.pid.write_text(json.dumps({"type": "local", "pid": pid}))
        assert read_disk_state(paths)[0] is not JobState.RUNNING

    def test_failed_marker_that_is_not_utf8_reads_as_failed(self, tmp_path):
        from xpm_nb.scheduler.jobs import JobState, read_disk_state

        folder, paths = _job_folder(tmp_path)
        paths.failed.write_bytes(b"\x80{")
        assert read_disk_state(paths)[0] is JobState.ERROR

    @pytest.mark.parametrize("text", ["true", "[1]", '{"tags": [1]}', '{"tags": "x"}'])
    def test_status_json_of_the_wrong_shape_does_not_break_the_listing(self, tmp_path, text):
        from xpm_nb.experiments.workspace_jobs import workspace_jobs
        from xpm_nb.scheduler.workspace import Workspace, WorkspaceSettings

        folder, paths = _job_folder(tmp_path)
        paths.status.write_text(text)
        [listed] = workspace_jobs(Workspace(WorkspaceSettings(tmp_path)))
        assert listed.state == "unscheduled"

    @settings(PROFILE, max_examples=max(12, EXAMPLES // 12))
    @given(which=st.sampled_from(["nop.failed", "nop.pid", ".experimaestro/status.json",
                                  "params.json"]),
           data=file_contents)
    def test_scheduler_on_a_folder_with_random_files(self, which, data):
        """A job folder holding random bytes: the scheduler runs the job (garbage
        markers are not a result) or fails it clearly (unreadable params.json); it
        never crashes and never marks the job done without running it."""
        from xpm_nb import experiment
        from xpm_nb.scheduler.experiment import FailedExperiment
        from xpm_nb.scheduler.jobs import JobState

        assume(which != "nop.pid" or _names_a_pid(data) is None)  # would be followed
        with tempfile.TemporaryDirectory() as root:
            ws = Path(root)
            config = Nop.C(i=7)
            folder = ws / "jobs" / "reltasks.nop" / config.__identifier__().hex()
            (folder / ".experimaestro").mkdir(parents=True)
            (folder / which).write_bytes(data)
            with experiment(ws, "random", project_paths=[]) as xp:
                task = Nop.C(i=7)
                task.submit()
            try:
                xp.raise_if_failed()
            except FailedExperiment as exc:
                assert xp.failed
                assert which == "params.json", str(exc)
                assert "params.json" in str(exc) or "SerializationError" in str(exc), str(exc)
                assert task.__xpm__.job.state is JobState.ERROR
            else:
                assert not xp.failed
                assert task.__xpm__.job.state is JobState.DONE
                assert task.__xpm__.job.paths.done.exists()


class TestTokenFile:
    @PROFILE
    @given(data=file_contents)
    def test_random_token_file_never_breaks_acquire_or_overcommits(self, data):
        from xpm_nb.tokens import CounterToken

        with tempfile.TemporaryDirectory() as root:
            token = CounterToken("t", Path(root) / "t.token", 2)
            token.path.write_bytes(data)
            held = token.used()  # by live processes the garbage happens to name
            taken = [token.try_acquire(f"/job/{i}", 1) for i in range(3)]
            assert taken.count(True) <= max(0, 2 - held)
            if any(taken):
                assert isinstance(json.loads(token.path.read_text()), dict)  # whole again
            for i in range(3):
                token.release(f"/job/{i}")
            assert token.used() == held


# --- YAML experiment files and overrides -------------------------------------------

yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.sampled_from(["id", "lr", "seeds", "model", "file", "title",
                                       "dirty_git", "imports", "hidden"])
                      | st.text(max_size=6), children, max_size=4),
    max_leaves=10)


@configuration
class YamlModel:
    hidden: int = 8


@configuration
class YamlConfiguration(ConfigurationBase):
    lr: float = 1e-3
    seeds: list[int] = attrs.field(factory=lambda: [1])
    model: YamlModel = attrs.field(factory=YamlModel)


class TestYamlConfigurations:
    @PROFILE
    @given(content=st.text(st.characters(blacklist_categories=("Cc", "Cs", "Cn"))
                           | st.sampled_from("\n\t :-[]{}#&*!|>'\"%@`,?"), max_size=120)
           | yaml_values.map(
        lambda v: __import__("yaml").safe_dump(v)))
    def test_any_yaml_file_builds_or_fails_naming_the_file(self, content):
        from xpm_nb.errors import ExperimentFileError
        from xpm_nb.experiments.build import build_configuration
        from xpm_nb.experiments.yamlfile import load_sources

        cls = YamlConfiguration
        with tempfile.TemporaryDirectory() as root:
            path = Path(root) / "xp.yaml"
            path.write_text(content)
            before = sorted(Path(root).rglob("*"))
            try:
                cfg = build_configuration(cls, load_sources(path))
            except ExperimentFileError as exc:
                assert str(path) in str(exc), str(exc)
            else:
                assert isinstance(cfg, cls) and isinstance(cfg.lr, float)
            assert sorted(Path(root).rglob("*")) == before  # nothing written

    @pytest.mark.parametrize("content", ["\x1f", "id: a\x00b\n"])
    def test_yaml_file_with_control_characters_names_the_file(self, tmp_path, content):
        from xpm_nb.errors import ExperimentFileError
        from xpm_nb.experiments.yamlfile import load_sources

        path = tmp_path / "xp.yaml"
        path.write_text(content)
        with pytest.raises(ExperimentFileError, match="xp.yaml"):
            load_sources(path)

    @PROFILE
    @given(text=st.text(max_size=40))
    def test_any_override_applies_or_fails_naming_it(self, text):
        from xpm_nb.errors import ExperimentFileError
        from xpm_nb.experiments.build import build_configuration
        from xpm_nb.experiments.yamlfile import apply_overrides, load_sources

        cls = YamlConfiguration
        with tempfile.TemporaryDirectory() as root:
            path = Path(root) / "xp.yaml"
            path.write_text("id: test\nlr: 0.1\nmodel:\n  hidden: 3\n")
            sources = load_sources(path)
            try:
                apply_overrides(sources, [text])
                build_configuration(cls, sources)
            except ExperimentFileError as exc:
                assert "override" in str(exc) or str(path) in str(exc), str(exc)


# --- requirement grammar of the launcher finder, launchers files ---------------------

REQUIREMENT_WORDS = ["duration", "cpu", "cuda", "mps", "gpu", "mem", "cores", "=", "(", ")",
                     ",", "&", "|", "*", "2", "4h", "1.5", "hours", "days", "s", "GiB", "MB",
                     "8GiB", "700", "x", "-1", " "]


class TestRequirementGrammar:
    @PROFILE
    @given(text=st.text(max_size=40) | st.lists(st.sampled_from(REQUIREMENT_WORDS),
                                                max_size=12).map("".join))
    def test_any_requirement_parses_and_prints_back_or_fails_with_its_position(self, text):
        from xpm_nb.errors import LauncherSpecError
        from xpm_nb.launcherfinder import HostRequirement, parse

        try:
            requirement = parse(text)
        except LauncherSpecError as exc:
            assert "position" in str(exc) and "^" in str(exc), str(exc)
            return
        assert isinstance(requirement, HostRequirement)
        assert parse(str(requirement)) == requirement, "printed form means something else"

    @PROFILE
    @example(content="- priority: null\n")
    @example(content="- hosts: [{cpu: {cores: x}}]\n")
    @example(content="- hosts: 5\n")
    @example(content="- tags: 5\n")
    @given(content=st.text(st.characters(blacklist_categories=("Cs",)), max_size=120)
           | st.lists(st.dictionaries(
               st.sampled_from(["name", "type", "tags", "hosts", "options", "cpu", "cuda",
                                "memory", "cores", "count", "priority", "max_duration"])
               | st.text(max_size=5), yaml_values, max_size=4), max_size=3)
           .map(lambda v: __import__("yaml").safe_dump(v)))
    def test_any_launchers_file_loads_or_fails_naming_it(self, content):
        from xpm_nb.errors import XPMError
        from xpm_nb.launcherfinder import LauncherRegistry

        with tempfile.TemporaryDirectory() as root:
            path = Path(root) / "launchers.yaml"
            path.write_text(content)
            try:
                registry = LauncherRegistry.load(path)
            except XPMError as exc:
                assert str(path) in str(exc), str(exc)
                return
            assert registry.find("duration=1h") is None or registry.entries


class TestJobFilters:
    @PROFILE
    @given(text=st.text(max_size=40) | st.lists(
        st.sampled_from(["a", "=", "!=", "~", "in", "not", "and", "or", "(", ")", "[", "]",
                         ",", '"x"', "'y'", "1", "2.5", "@state", "@name", "-3e2"]),
        max_size=10).map(" ".join))
    def test_any_filter_expression_parses_or_fails_showing_where(self, text):
        from xpm_nb.experiments.jobfilter import FilterSyntaxError, parse_filter

        try:
            predicate = parse_filter(text)
        except FilterSyntaxError as exc:
            assert str(exc)
            return
        record = {"state": "done", "name": "t/1", "task": "t", "id": "1", "tags": {"a": 1}}
        assert predicate(record) in (True, False)
