"""Services: a real web service started and stopped, its states seen by a listener."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from xpm_nb import experiment
from xpm_nb.services import (
    Service,
    ServiceListener,
    ServiceState,
    TensorboardService,
    WebService,
    proxied_url,
)


class Recorder(ServiceListener):
    def __init__(self):
        self.states: list[ServiceState] = []

    def service_state_changed(self, service):
        self.states.append(service.state)


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class TestTensorboardService:
    def test_lifecycle_seen_by_a_listener(self, tmp_path):
        """STOPPED -> STARTING -> RUNNING -> STOPPING -> STOPPED; serves its folder meanwhile."""
        logs = tmp_path / "runs"
        service = TensorboardService(logs, log_directory=tmp_path / "service-logs")
        (logs / "hello.txt").write_text("logs of a run")
        recorder = Recorder()
        service.add_listener(recorder)
        assert service.state is ServiceState.STOPPED

        url = service.get_url()
        assert url.startswith("http://127.0.0.1:")
        assert service.state is ServiceState.RUNNING
        if service.backend == "static":
            assert _get(url + "hello.txt")[0] == 401  # the static server wants its token
            assert _get(url + f"hello.txt?token={service.access_token}") == (200, "logs of a run")
        else:  # TensorBoard itself is installed
            assert _get(url)[0] == 200
        assert service.get_url() == url  # already running: same URL, no restart

        service.stop()
        assert recorder.states == [ServiceState.STARTING, ServiceState.RUNNING,
                                   ServiceState.STOPPING, ServiceState.STOPPED]
        with pytest.raises(OSError):
            urllib.request.urlopen(url, timeout=5)

        service.remove_listener(recorder)
        service.get_url()
        service.stop()
        assert len(recorder.states) == 4  # removed: told nothing more

    def test_add_links_a_job_folder_named_by_its_tags(self, tmp_path):
        from xpm_nb import Config, Param, tag

        class Learner(Config):
            lr: Param[float]
            seed: Param[int]

        service = TensorboardService(tmp_path / "tb")
        job_logs = tmp_path / "job" / "runs"
        job_logs.mkdir(parents=True)
        link = service.add(Learner.C(lr=tag(0.1), seed=tag(3)), job_logs)
        assert link.is_symlink() and link.resolve() == job_logs.resolve()
        assert link.parent == service.path
        assert "lr=0.1" in link.name and "seed=3" in link.name
        assert service.add(Learner.C(lr=tag(0.1), seed=tag(3)), job_logs) == link

    def test_state_dict_recreates_the_service(self, tmp_path):
        service = TensorboardService(tmp_path / "tb")
        data = service.full_state_dict()
        assert data["class"] == "xpm_nb.services.TensorboardService"
        assert data["state_dict"] == {"path": {"__path__": str(tmp_path / "tb")}}
        json.dumps(data)
        again = Service.from_state_dict(data["class"], data["state_dict"])
        assert isinstance(again, TensorboardService) and again.path == service.path
        moved = Service.from_state_dict(data["class"], data["state_dict"],
                                        path_translator=lambda p: tmp_path / "local" / Path(p).name)
        assert moved.path == tmp_path / "local" / "tb"

    def test_full_state_dict_has_the_reference_keys(self, tmp_path):
        """full_state_dict(): the reference's keys, id/description/state/url included."""
        service = TensorboardService(tmp_path / "tb")
        data = service.full_state_dict()
        assert set(data) == {"service_id", "description", "class", "state_dict",
                             "experiment_id", "run_id", "state", "url"}
        assert data["service_id"] == service.id
        assert data["description"] == service.description()
        assert data["state"] == service.state.name
        assert data["url"] is None  # not started
        json.dumps(data)


class Broken(WebService):
    id = "broken"

    def _serve(self, running: threading.Event) -> None:
        raise RuntimeError("port already taken")


def test_failing_service_ends_in_error(tmp_path):
    service = Broken(log_directory=tmp_path)
    recorder = Recorder()
    service.add_listener(recorder)
    with pytest.raises(RuntimeError, match="port already taken"):
        service.get_url()
    assert service.state is ServiceState.ERROR
    assert service.error == "RuntimeError: port already taken"
    assert recorder.states == [ServiceState.STARTING, ServiceState.ERROR]
    assert "port already taken" in service._repr_html_()


def test_experiment_stops_its_services(workdir, tmp_path):
    """``xp.add_service`` returns the service (the same one when added twice); close stops it."""
    with experiment(workdir, "services") as xp:
        service = xp.add_service(TensorboardService(tmp_path / "tb"))
        assert xp.add_service(TensorboardService(tmp_path / "other")) is service
        assert service.experiment_id == "services" and service.run_id == xp.run_id
        assert service.log_directory == xp.run_path / "services" / "tensorboard"
        service.get_url()
        assert _get(service.browser_url())[0] == 200
    assert service.state is ServiceState.STOPPED


class TestNotebookLink:
    def test_link_to_the_running_service(self, tmp_path, monkeypatch):
        monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
        service = TensorboardService(tmp_path / "tb")
        assert "stopped" in service._repr_html_()
        service.get_url()
        url = service.browser_url()  # with the static server's token
        try:
            html = service._repr_html_()
            assert f'href="{url}"' in html and "TensorBoard on" in html
        finally:
            service.stop()

    def test_behind_jupyterhub_the_link_goes_through_the_proxy(self, tmp_path, monkeypatch):
        monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/alice/")
        service = TensorboardService(tmp_path / "tb")
        url = service.get_url()
        try:
            port = url.split(":")[2].rstrip("/")
            html = service._repr_html_()
            query = f"?token={service.access_token}" if service.access_token else ""
            assert f'href="/user/alice/proxy/{port}/{query}"' in html
            assert f'href="{service.browser_url()}"' in html  # the direct link too
        finally:
            service.stop()

    def test_proxied_url(self):
        env = {"JUPYTERHUB_SERVICE_PREFIX": "/user/bob"}
        assert proxied_url("http://127.0.0.1:6006/x?a=1", env) == "/user/bob/proxy/6006/x?a=1"
        assert proxied_url("http://example.org:6006/", env) == "http://example.org:6006/"
        assert proxied_url("http://127.0.0.1:6006/", {}) == "http://127.0.0.1:6006/"
