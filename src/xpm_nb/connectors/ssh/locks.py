"""Locks and tokens on a remote host, kept by the connection's agent (``agent.py``).

A lock is held by the agent (``fcntl.lockf`` on the lock file, as
``fasteners`` does): schedulers running on that host see it. It is released
by ``release()``. When the link drops the agent exits, and with it the lock;
the connector takes the held locks again on the new agent as soon as it has
reconnected. A lock another process took meanwhile is then ``lost`` (a
warning is logged; ``release()`` leaves that process's lock alone).

A token is a JSON file of holders ``{key: [count, pid]}`` changed under its
``.lock`` (the format and rules of ``xpm_nb/tokens.py``). Our holder pid
is the connection's keeper process on the host; as in ``tokens.py`` a holder
also keeps its share while its job (the folder ``key``) runs, so a dropped
link or a crashed notebook releases a share only once the job has ended.
"""

from __future__ import annotations

import asyncio
from pathlib import PurePosixPath

from ...errors import ConnectorError, InvalidArgumentError, WaitTimeoutError
from .agent import AgentError

__all__ = ["RemoteLock", "RemoteToken"]

class RemoteLock:
    """``with`` / ``async with`` lock on a file of the remote host (held by the agent)."""

    def __init__(self, connector, path: PurePosixPath, max_delay: int = -1):
        self.connector = connector
        self.path = path
        self.max_delay = max_delay
        self.lost = False  # another process took it while the link was down

    def _take(self) -> None:
        agent = self.connector.agent()
        agent.request("lock", path=str(self.path), max_delay=float(self.max_delay))
        self.connector._hold(self, agent)  # taken again after a reconnection

    def acquire(self) -> None:
        self.lost = False
        try:
            self.connector.session.retrying(f"locking {self.path}", self._take)
        except AgentError as exc:
            if str(exc) == "timeout":
                msg = (f"could not lock {self.path} on {self.connector.spec} "
                       f"within {self.max_delay} s")
                raise WaitTimeoutError(msg) from None
            raise ConnectorError(f"{self.connector.spec}: locking {self.path}: {exc}") from None

    def release(self) -> None:
        self.connector._forget(self)  # first: a reconnection now must not take it again
        if self.lost:
            return  # our agent does not hold it (another process may: leave it)
        self.connector.agent_request(f"unlocking {self.path}", "unlock",
                                     timeout=self.connector.session.op_timeout,
                                     path=str(self.path))

    def __enter__(self) -> RemoteLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    async def __aenter__(self) -> RemoteLock:
        # A thread of its own: waiting for the lock must not hold a worker.
        await asyncio.to_thread(self.acquire)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.connector.call(self.release)


class RemoteToken:
    """At most ``total`` units held at once by the schedulers of a remote host."""

    def __init__(self, connector, name: str, path: PurePosixPath, total: int):
        if total < 1:
            msg = f"token {name!r}: total must be at least 1 (got {total})"
            raise InvalidArgumentError(msg)
        self.connector = connector
        self.name = name
        self.path = path
        self.total = total

    def __repr__(self) -> str:
        return f"RemoteToken({self.name!r}, total={self.total}, host={self.connector.spec!r})"

    def dependency(self, count: int = 1):
        from ...tokens import TokenDependency

        if not 1 <= count <= self.total:
            msg = f"token {self.name!r}: count must be between 1 and {self.total} (got {count})"
            raise InvalidArgumentError(msg)
        return TokenDependency(self, count)

    def _run(self, action: str, key: str = "", count: int = 0) -> int:
        answer = self.connector.agent_request(
            f"token {self.name} {action}", "token", timeout=self.connector.session.op_timeout,
            action=action, path=str(self.path), key=key, count=count, total=self.total)
        return int(answer["result"])

    def try_acquire(self, key: str, count: int, pid: int | None = None) -> bool:
        return self._run("acquire", key, count) == 1

    def release(self, key: str) -> None:
        self._run("release", key)

    def used(self) -> int:
        return self._run("used")
