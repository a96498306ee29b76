"""Self-tests of the test sshd (tests/infra/sshd.py): real OpenSSH server, paramiko client."""

from __future__ import annotations

import os
import socket
import subprocess
import time

import paramiko
import pytest

from infra.sshd import HOST_ALIAS
from support import integration as conftest

if "infra.fixtures" not in getattr(conftest, "pytest_plugins", ()):
    # Not registered suite-wide (yet): import the fixtures here.
    from infra.fixtures import sshd_running, sshd_server  # noqa: F401


def run(client: paramiko.SSHClient, command: str, timeout: float = 10) -> tuple[int, str]:
    _, stdout, _ = client.exec_command(command, timeout=timeout)
    out = stdout.read().decode()
    return stdout.channel.recv_exit_status(), out


def test_exec_and_sftp(sshd_server, tmp_path):
    assert sshd_server.host == "127.0.0.1"
    line = sshd_server.known_hosts.read_text().strip()
    assert line.startswith(f"[127.0.0.1]:{sshd_server.port} ssh-ed25519 ")
    with sshd_server.client() as client:
        assert run(client, "echo hi") == (0, "hi\n")
        assert run(client, "exit 7")[0] == 7
        data = os.urandom(4096)
        local = tmp_path / "up.bin"
        local.write_bytes(data)
        remote = tmp_path / "remote.bin"
        back = tmp_path / "down.bin"
        with client.open_sftp() as sftp:
            sftp.put(str(local), str(remote))
            assert sftp.stat(str(remote)).st_size == len(data)
            sftp.get(str(remote), str(back))
        assert remote.read_bytes() == data
        assert back.read_bytes() == data


def test_session_environment_has_our_path(sshd_server):
    with sshd_server.client() as client:
        status, out = run(client, "echo $PATH")
    assert status == 0
    # SetEnv passes our PATH; the user's shell start-up files may add to it.
    remote = out.strip().split(":")
    assert set(os.environ["PATH"].split(":")) <= set(remote), out


def test_unknown_host_key_is_rejected(sshd_server, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(paramiko.SSHException):
        sshd_server.client(known_hosts=empty)


def test_wrong_user_key_is_refused(sshd_server, tmp_path):
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    c = paramiko.SSHClient()
    c.load_host_keys(str(sshd_server.known_hosts))
    c.set_missing_host_key_policy(paramiko.RejectPolicy())
    with pytest.raises(paramiko.AuthenticationException):
        c.connect(
            sshd_server.host,
            port=sshd_server.port,
            username=sshd_server.user,
            key_filename=str(other),
            look_for_keys=False,
            allow_agent=False,
            timeout=5,
        )
    c.close()


def test_openssh_client_with_generated_config(sshd_server):
    r = subprocess.run(
        sshd_server.ssh_command("echo", "hi"),
        capture_output=True,
        text=True,
        timeout=20,
        stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hi\n"
    assert f"Host {HOST_ALIAS}" in sshd_server.ssh_config.read_text()


def test_stop_cuts_sessions_and_start_restores(sshd_running, tmp_path):
    server = sshd_running
    port = server.port
    client = server.client()
    try:
        assert run(client, "echo before") == (0, "before\n")
        server.stop()
        assert not server.running()
        # the open session is gone ...
        with pytest.raises((paramiko.SSHException, EOFError, OSError)):
            run(client, "echo after", timeout=5)
    finally:
        client.close()
    # ... and new connections are refused
    with pytest.raises((paramiko.ssh_exception.NoValidConnectionsError, OSError)):
        server.client(timeout=2)
    server.start()
    assert server.port == port
    with server.client() as again:  # same host key: known_hosts still valid
        assert run(again, "echo back") == (0, "back\n")


def test_pause_hangs_and_resume_restores(sshd_running):
    server = sshd_running
    client = server.client()
    try:
        server.pause()
        # a new connection gets no banner while paused
        t0 = time.monotonic()
        with pytest.raises((paramiko.SSHException, socket.timeout, OSError)):
            server.client(timeout=1)
        assert time.monotonic() - t0 < 10
        server.resume()
        assert run(client, "echo alive") == (0, "alive\n")  # the old session survived
    finally:
        client.close()
    with server.client() as again:
        assert run(again, "echo hi") == (0, "hi\n")


def test_kill_sessions_keeps_listening(sshd_running):
    server = sshd_running
    client = server.client()
    try:
        server.kill_sessions()
        with pytest.raises((paramiko.SSHException, EOFError, OSError)):
            run(client, "echo after", timeout=5)
    finally:
        client.close()
    assert server.running()
    with server.client() as again:
        assert run(again, "echo hi") == (0, "hi\n")
