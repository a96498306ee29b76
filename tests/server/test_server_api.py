"""The monitoring server's HTTP API: token required, jobs, the job-table protocol, services."""

from __future__ import annotations

import http.client
import json
import os
import stat
import sys
import threading
from pathlib import Path

import pytest

from support.waiting import wait_until
from xpm_nb import experiment
from xpm_nb.errors import XPMError
from xpm_nb.scheduler.experiment import FailedExperiment
from xpm_nb.services import TensorboardService, WebService

sys.path.insert(0, str(Path(__file__).parent))
from servertasks import Curve, WaitFlag  # noqa: E402

HERE = Path(__file__).parent
TOKEN = "s3cret-token"


@pytest.fixture(autouse=True)
def _importable(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", f"{HERE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")


def request(xp, path: str, *, method="GET", headers=None, body=None):
    """(status, headers, body) of a request to the experiment's server."""
    conn = http.client.HTTPConnection("127.0.0.1", xp.server.port, timeout=30)
    try:
        data = json.dumps(body).encode() if body is not None else None
        hdrs = dict(headers or {})
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def api(xp, path: str, **kwargs):
    status, _, body = request(xp, path, headers={"Authorization": f"Bearer {TOKEN}"}, **kwargs)
    assert status == 200, body
    return json.loads(body)


@pytest.fixture
def running_xp(workdir, tmp_path):
    """An experiment serving its page, with two jobs waiting for a flag file."""
    flag = tmp_path / "flag"
    xp = experiment(workdir, "served", port=0, token=TOKEN)
    tasks = [WaitFlag.C(x=i, flag=flag).submit() for i in (1, 2)]
    xp.flag = flag
    xp.tasks = tasks
    try:
        yield xp
    finally:
        flag.touch()
        try:
            xp.wait()  # failed jobs (a cancelled one) are logged, not raised
        finally:
            xp.close()


class TestToken:
    PATHS = ["/", "/api/jobs", "/api/poll", "/assets/job_table.js", "/static/page.js",
             "/services/tensorboard/"]

    def test_without_token_401(self, running_xp):
        for path in self.PATHS:
            status, headers, _ = request(running_xp, path)
            assert status == 401, path
            assert headers["WWW-Authenticate"].startswith("Bearer")
        status, _, _ = request(running_xp, "/api/msg", method="POST", body={"type": "sync"})
        assert status == 401

    def test_wrong_token_403(self, running_xp):
        wrong = [{"Authorization": "Bearer nope"}, {"X-XPM-Token": "nope"},
                 {"Cookie": "xpm_nb_token=nope"}]
        for headers in wrong:
            for path in self.PATHS:
                assert request(running_xp, path, headers=headers)[0] == 403, (path, headers)
        assert request(running_xp, "/api/jobs?token=nope")[0] == 403
        assert request(running_xp, "/api/quit?token=nope", method="POST", body={})[0] == 403

    def test_right_token_in_any_form(self, running_xp):
        forms = [({"Authorization": f"Bearer {TOKEN}"}, "/api/jobs"),
                 ({"X-XPM-Token": TOKEN}, "/api/jobs"),
                 ({"Cookie": f"xpm_nb_token={TOKEN}"}, "/api/jobs"),
                 ({}, f"/api/jobs?token={TOKEN}")]
        for headers, path in forms:
            assert request(running_xp, path, headers=headers)[0] == 200, headers

    def test_page_sets_the_token_cookie(self, running_xp):
        status, headers, body = request(running_xp, f"/?token={TOKEN}")
        assert status == 200 and b"static/page.js" in body
        cookie = headers["Set-Cookie"]
        assert cookie.startswith(f"xpm_nb_token={TOKEN};")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_bound_to_loopback_with_a_random_token_written_for_the_user_only(workdir):
    with experiment(workdir, "defaults", port=0) as xp:
        server = xp.server
        assert server.host == "127.0.0.1" and server._httpd.server_address[0] == "127.0.0.1"
        assert len(server.token) >= 20
        info_path = xp.run_path / "server.json"
        info = json.loads(info_path.read_text())
        assert info["url"] == server.url and server.url.endswith(f"?token={server.token}")
        assert stat.S_IMODE(info_path.stat().st_mode) == 0o600
    assert not info_path.exists()  # removed with the server
    with experiment(workdir, "other", port=0) as other:
        assert other.server.token != server.token


def test_port_in_use_is_a_clear_error(workdir):
    with experiment(workdir, "first", port=0) as xp:
        with pytest.raises(XPMError, match=f"127.0.0.1:{xp.server.port}.*another port"):
            experiment(workdir, "second", port=xp.server.port)


class TestJobs:
    def test_jobs_and_their_states(self, running_xp):
        wait_until(lambda: all(j.state.value == "running" for j in running_xp.jobs), 60,
                   "both jobs running")
        data = api(running_xp, "/api/jobs")
        assert data["experiment"] == "served"
        assert sorted(j["state"] for j in data["jobs"]) == ["running", "running"]
        assert {j["task_id"] for j in data["jobs"]} == {"servertasks.waitflag"}
        running_xp.flag.touch()
        running_xp.wait()
        data = api(running_xp, "/api/jobs")
        assert sorted(j["state"] for j in data["jobs"]) == ["done", "done"]

    def test_poll_gives_the_widget_keys_and_patches(self, running_xp):
        first = api(running_xp, "/api/poll?client=a")
        assert first["state"]["title"] == "experiment served"
        assert first["state"]["n_jobs"] == 2
        assert sum(first["state"]["counts"].values()) == 2
        (patch,) = first["messages"]
        assert patch["type"] == "patch" and len(patch["rows"]) == 2
        running_xp.flag.touch()
        running_xp.wait()
        messages = api(running_xp, "/api/poll?client=a")["messages"]
        (patch,) = messages
        assert sorted(r["state"] for r in patch["rows"]) == ["done", "done"]
        assert api(running_xp, "/api/poll?client=a")["messages"] == []  # nothing new
        other = api(running_xp, "/api/poll?client=b")["messages"]  # its own view
        assert len(other[0]["rows"]) == 2

    def test_sync_log_and_cancel_messages(self, running_xp):
        wait_until(lambda: all(j.state.value == "running" for j in running_xp.jobs), 60,
                   "both jobs running")
        (snapshot,) = api(running_xp, "/api/msg?client=c", method="POST",
                          body={"type": "sync"})["messages"]
        assert snapshot["type"] == "snapshot"
        row = snapshot["rows"][0]
        k = row["k"]
        job = next(j for j in running_xp.jobs if j.identifier == row["id"])
        wait_until(lambda: "value" in job.log_tail(5, "out"), 60, "the job's first output")
        (log,) = api(running_xp, "/api/msg?client=c", method="POST",
                     body={"type": "log", "k": k, "stream": "out"})["messages"]
        assert log["text"].strip().startswith("value ")
        (answer,) = api(running_xp, "/api/msg?client=c", method="POST",
                        body={"type": "cancel", "k": k})["messages"]
        assert answer["type"] == "action" and answer["ok"] is True
        running_xp.flag.touch()
        running_xp.wait()  # the cancelled job failed: logged, not raised
        assert running_xp.failed and running_xp.failed_jobs() == [job]
        with pytest.raises(FailedExperiment, match="cancelled"):
            running_xp.wait(check=True)
        assert job.state.value == "error" and job.failure_reason == "cancelled"
        others = [j for j in running_xp.jobs if j is not job]
        assert [j.state.value for j in others] == ["done"]

    def test_bad_requests(self, running_xp):
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert request(running_xp, "/nothing", headers=auth)[0] == 404
        json_auth = {**auth, "Content-Type": "application/json"}
        status, _, _ = request(running_xp, "/api/msg", method="POST", headers=json_auth)
        assert status == 200  # an empty body is an empty message
        conn = http.client.HTTPConnection("127.0.0.1", running_xp.server.port, timeout=10)
        conn.request("POST", "/api/msg", body=b"{not json", headers=json_auth)
        assert conn.getresponse().status == 400
        conn.close()
        for path in ("/assets/../../../../etc/passwd", "/static/..%2fhandler.py", "/static/%2e%2e/handler.py"):
            assert request(running_xp, path, headers=auth)[0] == 404, path


def test_curves_of_the_page_follow_the_jobs(workdir, tmp_path):
    """A page's ``curves_sync`` answers with every curve so far; the new points
    come in the next polls' ``curves_patch`` (the experiment view's protocol)."""
    flag = tmp_path / "flag"
    with experiment(workdir, "curves", port=0, token=TOKEN) as xp:
        tasks = [Curve.C(lr=lr, flag=flag).submit() for lr in (0.5, 1.0)]
        jobs = [t.__xpm__.job for t in tasks]

        def two_steps():
            (message,) = api(xp, "/api/msg?client=p", method="POST",
                             body={"type": "curves_sync"})["messages"]
            curves = message["curves"]
            done = len(curves) == 2 and all(c["loss"][0] == [0, 1] for c in curves.values())
            return done and message

        snapshot = wait_until(two_steps, 60, "two steps of each job in the snapshot", step=0.2)
        assert snapshot["type"] == "curves_snapshot" and snapshot["metric_names"] == ["loss"]
        by_id = {run["id"]: run["k"] for run in snapshot["runs"]}
        assert set(by_id) == {j.identifier for j in jobs}
        assert "curves_patch" not in api(xp, "/api/poll?client=p")["state"]  # nothing new
        flag.touch()
        xp.wait()
        appended: dict = {}

        def third_points() -> bool:
            patch = api(xp, "/api/poll?client=p")["state"].get("curves_patch")
            for k, curves in (patch or {}).get("append", {}).items():
                appended.setdefault(k, []).extend(curves["loss"][0])
            return all(appended.get(str(k)) == [2] for k in by_id.values())

        wait_until(third_points, 30, "step 2 of both runs in a patch", step=0.2)
        assert "curves_patch" not in api(xp, "/api/poll?client=other")["state"]  # no curves asked


class Echo(WebService):
    """Answers with the path, query and headers it received."""

    id = "echo"

    def _serve(self, running: threading.Event) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                body = json.dumps({"path": self.path, "headers": dict(self.headers)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}/base/"
        running.set()
        self._stop_event.wait()
        server.shutdown()
        server.server_close()


def test_web_services_are_reachable_through_the_server(workdir, tmp_path):
    with experiment(workdir, "with-services", port=0, token=TOKEN) as xp:
        tb = xp.add_service(TensorboardService(tmp_path / "tb"))
        (tmp_path / "tb" / "hello.txt").write_text("hello from the service")
        echo = xp.add_service(Echo())
        services = {s["id"]: s for s in api(xp, "/api/services")["services"]}
        assert services["tensorboard"]["state"] == "STOPPED"
        # The first request starts the service.
        status, _, body = request(xp, f"/services/tensorboard/hello.txt?token={TOKEN}")
        assert (status, body) == (200, b"hello from the service")
        assert api(xp, "/api/services")["services"][0]["url"] == "/services/tensorboard/"
        status, _, body = request(xp, f"/services/echo/a/b?x=1&token={TOKEN}",
                                  headers={"Cookie": f"xpm_nb_token={TOKEN}"})
        seen = json.loads(body)
        assert seen["path"] == "/base/a/b?x=1"  # the token never reaches the service
        assert "Cookie" not in seen["headers"] and "Authorization" not in seen["headers"]
        assert request(xp, "/services/nothing/", headers={"X-XPM-Token": TOKEN})[0] == 404
        assert request(xp, "/services/echo/")[0] == 401
    assert tb.state.name == echo.state.name == "STOPPED"


def test_wait_for_quit_keeps_the_page_until_quit(workdir):
    xp = experiment(workdir, "quit", port=0, token=TOKEN, wait_for_quit=True)
    closed = threading.Event()
    thread = threading.Thread(target=lambda: (xp.close(), closed.set()))
    thread.start()
    try:
        assert not closed.wait(0.5)  # still serving
        assert api(xp, "/api/poll")["server"]["wait_for_quit"] is True
        api(xp, "/api/quit", method="POST", body={})
        assert closed.wait(30)
    finally:
        xp.server.quit_requested.set()
        thread.join(30)
    assert xp.server.port is None  # stopped

