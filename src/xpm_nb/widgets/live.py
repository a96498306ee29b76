"""What the live job views share (``JobTable``, ``MetricsView``).

The schedulers a view listens to, its coalesced flushes on the scheduler's
loop, and one lock for every message carrying rows or points, so that a view
gets them in ``seq`` order. Subclasses give ``_state_snapshot()``,
``_flush()`` and ``_on_job(job)``.
"""

from __future__ import annotations

import threading

from .updates import Coalescer


class LiveJobsView:
    def _init_live(self, schedulers, interval: float) -> None:
        """Call first in ``__init__``: the base widget may read the snapshot."""
        self._sync_lock = threading.RLock()
        self._coalescer = Coalescer(self._flush, interval)
        self._schedulers: list = []
        for sched in schedulers:
            if sched is not None and all(sched is not s for s in self._schedulers):
                self._schedulers.append(sched)

    def _listen(self) -> None:
        for sched in self._schedulers:
            sched.listeners.append(self._on_job)

    @property
    def flushes(self) -> int:
        """How many coalesced updates this widget made."""
        return self._coalescer.flushes

    def _loop(self):
        return getattr(self._schedulers[0], "loop", None) if self._schedulers else None

    def _snapshot(self) -> dict:
        with self._sync_lock:
            return self._state_snapshot()

    def send_state(self, key=None) -> None:
        with self._sync_lock:
            super().send_state(key)

    def flush(self) -> None:
        """Send the pending changes now (the scheduler's loop does it within 0.1 s anyway)."""
        self._coalescer.flush_now()

    def _stop_listening(self) -> None:
        for sched in self._schedulers:
            try:
                sched.listeners.remove(self._on_job)
            except ValueError:
                pass
        self._schedulers = []
        self._coalescer.cancel()
