"""What the monitoring page shows: the notebook widget's job table, fed over HTTP.

Each open page is a *client* with its own
:class:`~xpm_nb.widgets.rows.JobTableState` (the kernel side of the job-table
protocol documented in ``js/job_table.js``): the page's requests (``sync``,
``log``, ``cancel``, ``resubmit``) are answered by it, and each poll returns
the patch of the rows that changed since the client's previous poll. The
curves work as in the experiment view (``js/experiment_view.js``): a page's
first ``curves_sync`` gives it a :class:`~xpm_nb.widgets.metrics.CurveFeed`,
answered by a ``curves_snapshot``; the new points come in the polls'
``curves_patch`` key.

The scheduler calls the listener on the experiment's loop while the server
answers from its own threads: a lock guards the tables, and cancel/resubmit
run on the experiment's loop (``call_soon_threadsafe``), where the scheduler
lives.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time

__all__ = ["PageModel", "job_record"]

CLIENT_IDLE = 120.0  # seconds without a poll before a client's table is dropped
ACTION_TIMEOUT = 30.0  # seconds to wait for the loop to run a cancel/resubmit


def job_record(job) -> dict:
    """One job as JSON (the fields of its ``status.json`` plus its locator and name)."""
    record = job.status_dict()
    record["locator"] = job.locator
    record["name"] = job.name
    record["progress"] = [dict(p) for p in (job.progress or [])]
    return record


class _Client:
    def __init__(self, table):
        self.table = table
        self.curves = None  # a CurveFeed, once the page opens its curves
        self.seen = time.monotonic()

    def close(self) -> None:
        if self.curves is not None:
            self.curves.close()


class PageModel:
    """The job tables of the open pages, and the actions they send back."""

    def __init__(self, xp):
        self.xp = xp
        self.version = 0  # bumped at every job change (a cheap "anything new?")
        self._lock = threading.RLock()
        self._clients: dict[str, _Client] = {}
        xp.scheduler.listeners.append(self._changed)

    def close(self) -> None:
        """Stop following the scheduler (the server stopped)."""
        try:
            self.xp.scheduler.listeners.remove(self._changed)
        except ValueError:
            pass
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    # --- scheduler side (the experiment's loop) -------------------------------

    def _changed(self, job) -> None:
        with self._lock:
            self.version += 1
            for client in self._clients.values():
                client.table.add(job)  # new job: added; known job: marked dirty
                if client.curves is not None:
                    client.curves.job_changed(job, True)

    # --- page side (server threads) -------------------------------------------

    def jobs(self) -> list:
        return list(self.xp.scheduler.jobs.values())

    def jobs_payload(self) -> dict:
        return {"experiment": self.xp.name, "run_id": getattr(self.xp, "run_id", None),
                "version": self.version, "time": time.time(),
                "jobs": [job_record(job) for job in self.jobs()]}

    def _client(self, client_id: str) -> _Client:
        from ..widgets.rows import JobTableState

        now = time.monotonic()
        client = self._clients.get(client_id)
        if client is None:
            for cid in [c for c, v in self._clients.items() if now - v.seen > CLIENT_IDLE]:
                self._clients.pop(cid).close()
            client = self._clients[client_id] = _Client(JobTableState(self.jobs()))
        client.seen = now
        return client

    def _state(self, table) -> dict:
        """The synced keys of the notebook widget (``JobTable``'s traitlets)."""
        return {"title": f"experiment {self.xp.name}", "counts": table.counts(),
                "tag_names": table.tag_names, "n_jobs": len(table)}

    def poll(self, client_id: str) -> dict:
        """The model's keys and the messages for this client since its last poll."""
        with self._lock:
            client = self._client(client_id)
            table = client.table
            known = len(table)
            for job in self.jobs()[known:]:  # jobs no listener call announced yet
                table.add(job)
            patch = table.patch()
            state = self._state(table)
            curves = client.curves.state.patch() if client.curves is not None else None
            if curves is not None:
                state["curves_patch"] = curves
            return {"version": self.version, "state": state,
                    "messages": [patch] if patch is not None else [],
                    "server": {"wait_for_quit": bool(getattr(self.xp, "wait_for_quit", False))}}

    def message(self, client_id: str, content) -> dict:
        """A request of the page (``model.send``); returns the messages answering it."""
        if not isinstance(content, dict):
            return {"messages": []}
        kind = content.get("type")
        with self._lock:
            if kind == "curves_sync":
                return {"messages": [self._curves_snapshot(self._client(client_id))]}
            table = self._client(client_id).table
            if kind not in ("cancel", "resubmit"):
                reply = table.handle(content)
                return {"messages": [reply] if reply is not None else []}
        reply = self._on_loop(lambda: self._locked(table.handle, content))
        return {"messages": [reply] if reply is not None else []}

    def _curves_snapshot(self, client: _Client) -> dict:
        """Every curve of the experiment's jobs, following them from now on."""
        from ..widgets.metrics import CurveFeed

        if client.curves is None:
            client.curves = CurveFeed(self.jobs(), self._bump, lambda: self.xp.loop)
        return {**client.curves.state.snapshot_for_view(), "type": "curves_snapshot"}

    def _bump(self) -> None:
        self.version += 1  # new points: the next poll carries them

    def _locked(self, fn, *args):
        with self._lock:
            return fn(*args)

    def _on_loop(self, fn):
        """``fn()`` run on the experiment's loop (directly when that loop is not running)."""
        loop = self.xp.loop
        if loop.is_closed() or not loop.is_running():
            return fn()
        future: concurrent.futures.Future = concurrent.futures.Future()

        def call():
            try:
                future.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
                future.set_exception(exc)

        loop.call_soon_threadsafe(call)
        return future.result(ACTION_TIMEOUT)
