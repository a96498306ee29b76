"""SshConnector against the real sshd: files over SFTP, processes, locks, tokens, paths."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time

import fasteners
import pytest
from ssh_helpers import make_connector, no_guard

from support.waiting import wait_until
from xpm_nb.connectors.ssh import SshConnector, SshPath
from xpm_nb.errors import ConnectorError


class TestFiles:
    def test_write_read_append_list_remove(self, connector, remote_root, guard):
        """Every file operation goes over SFTP and lands in the remote folder."""
        base = remote_root / "a" / "b"
        with guard:
            connector.mkdir(base, parents=True)
            connector.mkdir(base, parents=True, exist_ok=True)
            connector.write_atomic(base / "f.txt", "hello")
            connector.append(base / "f.txt", " world")
            connector.append(base / "g.txt", b"new")
            text = connector.read_text(base / "f.txt")
            tail = connector.read_range(base / "f.txt", 6)
            names = sorted(connector.listdir(base))
            size = connector.size(base / "f.txt")
            missing = (connector.exists(base / "nope"), connector.size(base / "nope"),
                       connector.read_optional(base / "nope"), connector.read_range(base / "nope", 0))
            connector.symlink(base / "f.txt", base / "link")
            with pytest.raises(FileExistsError):
                connector.symlink(base / "g.txt", base / "link")
            with pytest.raises(FileExistsError):
                connector.mkdir(base / "f.txt", exist_ok=False)
            connector.rename(base / "g.txt", base / "h.txt")
            connector.unlink(base / "h.txt")
            connector.unlink(base / "h.txt", missing_ok=True)
            with pytest.raises(FileNotFoundError):
                connector.read_bytes(base / "h.txt")
        assert text == "hello world" and tail == b"world" and size == 11
        assert names == ["f.txt", "g.txt"]
        assert missing == (False, None, None, b"")
        assert (base / "f.txt").read_text() == "hello world"
        assert os.readlink(base / "link") == str(base / "f.txt")
        assert not (base / "h.txt").exists() and not (base / "g.txt").exists()

    def test_atomic_write_leaves_no_temp_file(self, connector, remote_root, guard):
        with guard:
            connector.write_atomic(remote_root / "x.json", json.dumps({"a": 1}))
            connector.write_atomic(remote_root / "x.json", json.dumps({"a": 2}))
        assert os.listdir(remote_root) == ["x.json"]
        assert json.loads((remote_root / "x.json").read_text()) == {"a": 2}

    def test_rmtree_removes_a_folder_and_refuses_the_root(self, connector, remote_root, guard):
        (remote_root / "t" / "u").mkdir(parents=True)
        (remote_root / "t" / "u" / "f").write_text("x")
        with guard:
            connector.rmtree(remote_root / "t")
            with pytest.raises(ConnectorError, match="too close to the root"):
                connector.rmtree("/")
        assert not (remote_root / "t").exists()

    def test_sshpath_reads_and_writes_through_its_connector(self, connector, remote_root, guard):
        path = SshPath(f"ssh://{connector.spec}/{remote_root}") / "dir" / "file.txt"
        assert str(path) == f"ssh://{connector.spec}/{remote_root}/dir/file.txt"
        assert path.name == "file.txt" and path.parent.name == "dir"
        with guard:
            path.parent.mkdir(parents=True)
            path.write_text("über")
            assert path.read_text() == "über" and path.exists() and path.is_file()
            assert [p.name for p in path.parent.iterdir()] == ["file.txt"]
            with path.open("r") as f:
                assert f.read() == "über"
        with pytest.raises(TypeError, match="remote host"):
            open(path)  # noqa: SIM115 - a remote path never reaches open() by mistake

    def test_sshpath_parsing(self):
        p = SshPath("ssh://me@host:2222//abs/path")
        assert (p.host, p.hostpath, p.is_absolute()) == ("me@host:2222", "/abs/path", True)
        rel = SshPath("ssh://host/rel/path")
        assert (rel.host, rel.hostpath, rel.is_absolute()) == ("host", "rel/path", False)
        assert SshPath(str(p)) == p
        with pytest.raises(ConnectorError, match="ssh://"):
            SshPath("/not/a/url")


class TestProcesses:
    def test_start_runs_detached_with_its_env_and_records_the_exit_code(
            self, connector, remote_root, guard):
        code = ("import os, sys, time; print(os.environ['XPM_NB_X'], os.getcwd()); "
                "time.sleep(0.3); sys.exit(3)")
        with guard:
            proc = connector.start([sys.executable, "-c", code], cwd=remote_root,
                                   env={"XPM_NB_X": "a b'c"}, stdout=remote_root / "o.out",
                                   stderr=remote_root / "o.err",
                                   exit_file=remote_root / "meta" / "exit")
            result = asyncio.run(proc.wait())
        assert result.code == 3
        assert (remote_root / "o.out").read_text() == f"a b'c {remote_root}\n"
        # Its own session: it survives the SSH channel that started it.
        assert (remote_root / "meta" / "exit").read_text().strip() == "3"

    def test_kill_stops_the_process_group_and_reports_the_signal(
            self, connector, remote_root, guard):
        with guard:
            proc = connector.start(["sh", "-c", "sleep 30 & sleep 30"], cwd=remote_root, env={},
                                   stdout=remote_root / "o", stderr=remote_root / "e",
                                   exit_file=remote_root / "exit")
            assert connector.pid_alive(proc.pid)
            with no_guard():  # the command runs (a kill before it starts has no code)
                group = _group_of(proc.pid)
                wait_until(lambda: len(_processes_in_group(group)) >= 4, 60,
                           "the command's processes")
                assert len(_processes_in_group(group)) == 4  # wrapper, sh and two sleeps
            proc.kill()
            result = asyncio.run(proc.wait())
        assert result.code == -signal.SIGTERM
        # the wrapper exits just after recording the code
        wait_until(lambda: not _processes_in_group(group), 30, "the group's end", step=0.05)
        assert not _processes_in_group(group)

    def test_pid_alive_and_command_results(self, connector):
        assert connector.pid_alive(1)
        assert not connector.pid_alive(2**22 + 12345)
        code, out, err = connector.run_command_sync(
            ["sh", "-c", 'echo "$V"; echo oops >&2; exit 4'], env={"V": "x y"})
        assert (code, out, err) == (4, "x y\n", "oops\n")
        code, out, _ = asyncio.run(connector.run_command(["cat"], input="piped"))
        assert (code, out) == (0, "piped")
        assert connector.hostname == os.uname().nodename


class TestLocksAndTokens:
    def test_remote_lock_excludes_the_host_s_own_fasteners_lock(self, connector, remote_root):
        """The helper holds a lockf lock on the host: local schedulers there see it."""
        path = remote_root / "locks" / "a.lock"
        with connector.lock(path):
            local = fasteners.InterProcessLock(str(path))
            assert not local.acquire(blocking=False)
        assert local.acquire(blocking=False)
        try:
            with pytest.raises(TimeoutError, match="within 0 s"):
                with connector.lock(path, max_delay=0):
                    pass
        finally:
            local.release()

    def test_async_lock_waits_without_blocking_the_loop(self, connector, remote_root):
        path = remote_root / "b.lock"
        local = fasteners.InterProcessLock(str(path))
        local.acquire()
        ticks = []

        async def main():
            async def ticker():
                while True:
                    ticks.append(time.monotonic())
                    await asyncio.sleep(0.05)

            t = asyncio.create_task(ticker())
            asyncio.get_running_loop().call_later(1.0, local.release)
            async with connector.async_lock(path):
                got_it = not fasteners.InterProcessLock(str(path)).acquire(blocking=False)
            t.cancel()
            return got_it

        assert asyncio.run(main())
        assert len(ticks) >= 5  # the loop kept running while the lock was awaited

    def test_token_counts_holders_on_the_host(self, sshd_running, remote_root):
        c = make_connector(sshd_running, localpath=str(remote_root / "share"))
        try:
            token = c.createtoken("gpu", 2)
            assert token.try_acquire("job-a", 1) and token.try_acquire("job-b", 1)
            assert not token.try_acquire("job-c", 1)
            assert token.try_acquire("job-a", 1)  # held already
            assert token.used() == 2
            holders = json.loads((remote_root / "share" / "tokens" / "gpu.token").read_text())
            assert set(holders) == {"job-a", "job-b"}
            assert all(pid == c.keeper_pid() for _, pid in holders.values())
            token.release("job-a")
            assert token.try_acquire("job-c", 1)
            c.close()  # the keeper ends with the connection: its shares are released
            other = make_connector(sshd_running, localpath=str(remote_root / "share"))
            try:
                assert other.createtoken("gpu", 2).used() == 0
            finally:
                other.close()
        finally:
            c.close()


class TestGetAndErrors:
    def test_get_caches_connectors(self, sshd_running):
        a = SshConnector.get("127.0.0.1:1", connect_timeout=1)
        assert SshConnector.get("127.0.0.1:1", connect_timeout=1) is a
        assert SshConnector.get("127.0.0.1:1") is a
        assert SshConnector.fromPath("ssh://127.0.0.1:1//x") is a

    def test_a_host_that_cannot_be_reached_fails_at_once(self, tmp_path):
        c = SshConnector("127.0.0.1:1", known_hosts=tmp_path / "kh", connect_timeout=2)
        with pytest.raises(ConnectorError, match="cannot connect to .*127.0.0.1:1"):
            c.exists("/")

    def test_a_refused_key_says_how_to_fix_it(self, sshd_running, tmp_path):
        import subprocess

        key = tmp_path / "other"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                       check=True)
        (tmp_path / "config").write_text(
            f"Host other\n  HostName 127.0.0.1\n  Port {sshd_running.port}\n"
            f"  User {sshd_running.user}\n  IdentityFile {key}\n  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {sshd_running.known_hosts}\n")
        c = SshConnector("other", ssh_config=tmp_path / "config")
        with pytest.raises(ConnectorError, match="authentication .* failed.*authorized_keys"):
            c.exists("/")


def _group_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[2])


def _processes_in_group(pgid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid and fields[0] != "Z":
                    found.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return found


def test_the_guard_sees_local_access(remote_root):
    """The tests' guard records a local file operation on the remote folder."""
    from ssh_helpers import LocalAccessGuard

    with LocalAccessGuard(remote_root) as g:
        (remote_root / "touched").write_text("x")
        os.listdir(remote_root)
    assert {event for event, _ in g.seen} >= {"open", "os.listdir"}
    with pytest.raises(AssertionError, match="touched locally"):
        g.check()


def test_a_launcher_s_process_builder_starts_on_the_remote_host(connector, remote_root, guard):
    """The reference's ``launcher.processbuilder()`` is the connector's builder."""
    from xpm_nb.launchers.direct import DirectLauncher

    builder = DirectLauncher(connector).processbuilder()
    builder.command = ["sh", "-c", "echo built on $(uname -n)"]
    builder.workingDirectory = remote_root
    builder.stdout = remote_root / "built.out"
    with guard:
        result = asyncio.run(builder.start().wait())
    assert result.code == 0
    assert (remote_root / "built.out").read_text() == f"built on {os.uname().nodename}\n"
