"""Host keys, user keys and the SSH config file, against the real sshd."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess

import pytest
from ssh_helpers import make_connector

from support.waiting import wait_until
from xpm_nb import experiment
from xpm_nb.connectors.ssh import SshConnector
from xpm_nb.errors import ConnectorError, HostKeyError


def _fingerprint(pub: str) -> str:
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", pub], check=True,
                         capture_output=True, text=True).stdout
    return out.split()[1]


def _config(tmp_path, server, known_hosts, extra: str = "") -> str:
    path = tmp_path / "ssh_config"
    path.write_text(
        f"Host box\n  HostName 127.0.0.1\n  Port {server.port}\n  User {server.user}\n"
        f"  IdentityFile {server.user_key}\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {known_hosts}\n{extra}")
    return str(path)


class TestHostKeys:
    def test_unknown_host_is_refused_with_its_fingerprint_and_the_fix(
            self, sshd_running, tmp_path):
        known = tmp_path / "known_hosts"
        known.write_text("")
        c = SshConnector("box", ssh_config=_config(tmp_path, sshd_running, known))
        with pytest.raises(HostKeyError) as info:
            c.exists("/")
        message = str(info.value)
        assert f"[127.0.0.1]:{sshd_running.port}" in message
        assert _fingerprint(str(sshd_running.host_key) + ".pub") in message
        assert "accept_unknown_host=True" in message and "ssh-keyscan" in message
        assert known.read_text() == ""  # nothing trusted behind the user's back

    def test_an_experiment_on_an_unknown_host_fails_before_writing(
            self, sshd_running, tmp_path):
        known = tmp_path / "known_hosts"
        known.write_text("")
        remote = tmp_path / "remote-ws"
        c = SshConnector("box", ssh_config=_config(tmp_path, sshd_running, known))
        SshConnector._cache[("box", ())] = c
        try:
            with pytest.raises(HostKeyError):
                experiment(f"ssh://box/{remote}", "refused")
        finally:
            SshConnector._cache.pop(("box", ()), None)
        assert not remote.exists()

    def test_accepting_an_unknown_host_saves_its_key(self, sshd_running, tmp_path):
        known = tmp_path / "known_hosts"
        config = _config(tmp_path, sshd_running, known)
        c = SshConnector("box", ssh_config=config, accept_unknown_host=True)
        assert c.exists("/")
        c.close()
        line = known.read_text().split()
        host_pub = (sshd_running.host_key.parent / "ssh_host_ed25519_key.pub").read_text()
        assert line[0] == f"[127.0.0.1]:{sshd_running.port}" and line[2] == host_pub.split()[1]
        # From now on the default (refuse unknown hosts) accepts it.
        strict = SshConnector("box", ssh_config=config)
        assert strict.exists("/")
        strict.close()

    def test_accept_new_in_the_config_file_is_honoured(self, sshd_running, tmp_path):
        known = tmp_path / "known_hosts"
        config = _config(tmp_path, sshd_running, known, "  StrictHostKeyChecking accept-new\n")
        c = SshConnector("box", ssh_config=config)
        assert c.exists("/")
        c.close()
        assert f"[127.0.0.1]:{sshd_running.port}" in known.read_text()

    def test_a_changed_host_key_is_always_refused(self, sshd_running, tmp_path):
        other = tmp_path / "other_host_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)],
                       check=True)
        known = tmp_path / "known_hosts"
        kind, key = (tmp_path / "other_host_key.pub").read_text().split()[:2]
        known.write_text(f"[127.0.0.1]:{sshd_running.port} {kind} {key}\n")
        c = SshConnector("box", ssh_config=_config(tmp_path, sshd_running, known),
                         accept_unknown_host=True)
        with pytest.raises(HostKeyError, match="differs from the known one.*ssh-keygen -R"):
            c.exists("/")


class TestUserKeysAndConfig:
    def test_the_config_alias_gives_host_port_user_key_and_known_hosts(self, sshd_running):
        c = make_connector(sshd_running)
        s = c.settings
        assert (s.hostname, s.port, s.user) == ("127.0.0.1", sshd_running.port, sshd_running.user)
        assert s.identity_files == [str(sshd_running.user_key)]
        assert s.known_hosts_files == [str(sshd_running.known_hosts)]
        assert c.exists("/")
        c.close()

    def test_keys_from_the_agent(self, sshd_running, tmp_path, monkeypatch):
        """No identity file: the key comes from ssh-agent (SSH_AUTH_SOCK)."""
        if shutil.which("ssh-agent") is None or shutil.which("ssh-add") is None:
            pytest.skip("ssh-agent not installed")
        sock = tmp_path / "agent.sock"
        agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
            wait_until(sock.exists, 10, "ssh-agent's socket")
            subprocess.run(["ssh-add", str(sshd_running.user_key)], env=env, check=True,
                           capture_output=True)
            monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
            monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh/id_* to fall back on
            config = tmp_path / "config"
            config.write_text(
                f"Host viaagent\n  HostName 127.0.0.1\n  Port {sshd_running.port}\n"
                f"  User {sshd_running.user}\n  UserKnownHostsFile {sshd_running.known_hosts}\n")
            c = SshConnector("viaagent", ssh_config=config)
            assert c.settings.identity_files == []
            assert c.exists("/")
            c.close()
            # Without the agent the same connection is refused: the agent did it.
            subprocess.run(["ssh-add", "-D"], env=env, check=True, capture_output=True)
            with pytest.raises(ConnectorError, match="authentication"):
                SshConnector("viaagent", ssh_config=config).exists("/")
        finally:
            agent.send_signal(signal.SIGTERM)
            agent.wait(timeout=10)
