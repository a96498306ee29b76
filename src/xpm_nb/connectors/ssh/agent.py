"""A small Python agent on the remote host, one per SSH connection.

Started once per connection over an exec channel (``python -c AGENT``), it
answers JSON lines: take and release locks, change tokens, start detached
processes, signal process groups. One round trip each, no shell start-up, no
channel per lock (OpenSSH allows only ``MaxSessions``, 10 by default).

Locks are ``fcntl.lockf`` locks held by the agent process, as ``fasteners``
takes them: schedulers running on the host see them. When the connection
ends the agent reads end-of-file and exits, so its locks are released and its
token shares (holder pid = the agent) end with it, as a crashed local
scheduler's would.

After a reconnection the connector retires the previous agent (``retire``: a
link that only hung may leave it running, holding its locks; it is killed if
its command line still carries that agent's random ``name``), then takes the
locks its callers hold again on the new one (``connector.py``).
"""

from __future__ import annotations

import itertools
import json
import shlex
import threading
import uuid
from collections.abc import Callable
from typing import Any

from ...errors import AgentError, WaitTimeoutError

__all__ = ["Agent", "AGENT_SOURCE"]

AGENT_SOURCE = r'''
import fcntl, glob, json, os, signal, socket, subprocess, sys, threading, time
out_lock, held_lock, token_lock = threading.Lock(), threading.Lock(), threading.Lock()
held = {}

def reply(message):
    data = json.dumps(message) + "\n"
    with out_lock:
        sys.stdout.write(data)
        sys.stdout.flush()

def op_lock(r):
    path, max_delay = r["path"], float(r["max_delay"])
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    start, delay = time.time(), 0.005
    while True:
        with held_lock:
            if path not in held:
                f = open(path, "a")
                try:
                    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    held[path] = f
                    return {}
                except OSError:
                    f.close()
        if 0 <= max_delay < time.time() - start:
            return {"error": "timeout"}
        time.sleep(delay)
        delay = min(delay * 2, 0.2)

def op_unlock(r):
    with held_lock:
        f = held.pop(r["path"], None)
    if f is not None:
        fcntl.lockf(f, fcntl.LOCK_UN)
        f.close()
    return {}

def alive(p):
    try:
        p = int(p)
        if p <= 0:
            return False
        os.kill(p, 0)
    except (ProcessLookupError, ValueError, TypeError, OverflowError):
        return False
    except PermissionError:
        return True
    return True

def job_running(folder):
    # As xpm_nb/tokens.py: a holder keeps its share while its job runs on.
    for name in glob.glob(os.path.join(glob.escape(folder), "*.pid")):
        try:
            with open(name, "rb") as f:
                info = json.loads(f.read())
            if info.get("host", socket.gethostname()) != socket.gethostname():
                return True
            if alive(info["pid"]):
                return True
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
    return False

def entry(v):
    try:
        c, p = int(v[0]), int(v[1])
    except (TypeError, ValueError, IndexError, KeyError, OverflowError):
        return None
    return [c, p] if c >= 1 else None

def op_token(r):
    action, path, key = r["action"], r["path"], r.get("key", "")
    count, total, pid = int(r.get("count", 0)), int(r["total"]), os.getpid()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with token_lock, open(path + ".lock", "a") as lock:
        fcntl.lockf(lock, fcntl.LOCK_EX)
        try:
            with open(path, "rb") as f:
                holders = json.loads(f.read())
        except (OSError, ValueError):
            holders = {}
        if not isinstance(holders, dict):
            holders = {}
        kept = {}
        for k, v in holders.items():
            v = entry(v)
            if v is not None and (alive(v[1]) or job_running(k)):
                kept[k] = v
        changed, holders, result = len(kept) != len(holders), kept, None
        if action == "acquire":
            if key in holders:
                changed = changed or holders[key][1] != pid
                holders[key][1] = pid
                result = 1
            elif sum(v[0] for v in holders.values()) + count > total:
                result = 0
            else:
                holders[key] = [count, pid]
                changed, result = True, 1
        elif action == "release":
            changed = holders.pop(key, None) is not None or changed
        if result is None:
            result = sum(v[0] for v in holders.values())
        if changed:
            tmp = "%s.%d.tmp" % (path, pid)
            with open(tmp, "w") as f:
                json.dump(holders, f)
            os.replace(tmp, path)
    return {"result": result}

def op_start(r):
    # Through a shell that exits at once: the process is not our descendant
    # (it outlives the agent and whatever ends the SSH session's processes).
    env = dict(os.environ)
    env.update(r["env"])
    outer = '"$@" </dev/null >/dev/null 2>&1 & echo $!'
    p = subprocess.Popen(["sh", "-c", outer, "sh", *r["argv"]], cwd=r["cwd"], env=env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    out, err = p.communicate()
    if p.returncode != 0 or not out.strip().isdigit():
        raise OSError("exit %s: %s" % (p.returncode, err.decode(errors="replace").strip()))
    return {"pid": int(out)}

def op_kill(r):
    pid, sig = int(r["pid"]), int(r["signal"])
    try:
        if r.get("group", True):
            os.killpg(os.getpgid(pid), sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        return {"result": False}
    return {"result": True}

def op_retire(r):
    # The agent of a previous connection, if it still runs (a hung link): killed so that
    # its locks are free again. Its random name in its command line proves the pid is it.
    pid, name = int(r["pid"]), r["name"].encode()
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            if name not in f.read().split(b"\0"):
                return {"result": False}
        os.kill(pid, signal.SIGKILL)
    except (OSError, ValueError):
        return {"result": False}
    for _ in range(200):  # its locks go when it has exited (a zombie holds none)
        try:
            with open("/proc/%d/stat" % pid, "rb") as f:
                if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                    break
        except OSError:
            break
        time.sleep(0.01)
    return {"result": True}

OPS = {"lock": op_lock, "unlock": op_unlock, "token": op_token, "start": op_start,
       "kill": op_kill, "retire": op_retire}

def handle(r):
    try:
        answer = OPS[r["op"]](r)
    except Exception as e:
        answer = {"error": "%s: %s" % (type(e).__name__, e)}
    answer["id"] = r["id"]
    reply(answer)

reply({"pid": os.getpid(), "host": socket.gethostname()})
for line in sys.stdin:
    threading.Thread(target=handle, args=(json.loads(line),), daemon=True).start()
'''


class Agent:
    """The client side: requests sent on the channel, answers dispatched by id."""

    def __init__(self, session, python: str):
        self.session = session
        self.generation = session.generation
        self.name = f"xpm_nb-agent-{uuid.uuid4().hex}"  # in its argv: ``retire`` checks it
        self.on_lost: Callable[[Agent], None] | None = None  # the link dropped under it
        command = f"{shlex.quote(python)} -c {shlex.quote(AGENT_SOURCE)} {self.name}"
        self.channel = session.open_channel(command)
        self._file = self.channel.makefile("r")
        first = self._file.readline()
        try:
            hello = json.loads(first)
        except ValueError:
            err = self.channel.makefile_stderr("r").read().strip()[-800:]
            self.channel.close()
            if not first and not session._link_alive():
                raise EOFError("the link dropped while starting the agent") from None
            msg = (f"the remote Python ({python}) could not start the xpm_nb agent: "
                   f"{err or first!r}. Fix: name a working Python 3 with python=...")
            raise AgentError(msg) from None
        self.pid: int = hello["pid"]
        self.hostname: str = hello["host"]
        self._ids = itertools.count(1)
        self._pending: dict[int, list] = {}
        self._lock = threading.Lock()  # the pending requests
        self._send_lock = threading.Lock()
        self.closed = False
        self._reader = threading.Thread(target=self._read, name="xpm_nb-ssh-agent", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for line in self._file:
                try:
                    answer = json.loads(line)
                except ValueError:
                    continue
                with self._lock:
                    slot = self._pending.pop(answer.get("id"), None)
                if slot is not None:
                    slot[1] = answer
                    slot[0].set()
        except (TimeoutError, OSError, EOFError):
            pass
        finally:
            self.closed = True
            with self._lock:
                pending, self._pending = self._pending, {}
            for slot in pending.values():
                slot[0].set()  # no answer: the link is gone
            callback = self.on_lost
            if callback is not None:
                callback(self)

    def request(self, op: str, timeout: float | None = None, **fields: Any) -> dict:
        """Send a request and wait for its answer (EOFError if the link drops)."""
        if self.closed:
            raise EOFError("the agent's channel is closed")
        rid = next(self._ids)
        slot: list = [threading.Event(), None]
        with self._lock:
            self._pending[rid] = slot
        data = json.dumps({"id": rid, "op": op, **fields}) + "\n"
        try:
            with self._send_lock:
                self.channel.sendall(data.encode())
        except Exception:
            with self._lock:
                self._pending.pop(rid, None)
            raise
        if not slot[0].wait(timeout):
            with self._lock:
                self._pending.pop(rid, None)
            raise WaitTimeoutError(f"no answer from the agent to {op} within {timeout} s")
        answer = slot[1]
        if answer is None:
            raise EOFError(f"the link dropped before the agent answered {op}")
        if "error" in answer:
            raise AgentError(answer["error"])
        return answer

    def close(self, wait: float = 5.0) -> None:
        """End the agent: end-of-file on its input, then (up to ``wait`` s) its exit,
        so that its locks and token shares are released when this returns."""
        self.on_lost = None  # ended on purpose
        self.closed = True
        try:
            self.channel.shutdown_write()
            self.channel.status_event.wait(wait)
        except Exception:  # noqa: BLE001 - a dead link ended the agent already
            pass
        try:
            self.channel.close()
        except Exception:  # noqa: BLE001 - closing a dead channel
            pass
