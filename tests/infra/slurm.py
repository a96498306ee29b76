"""A real single-node SLURM cluster (22.05, Debian packages) on 127.0.0.1.

Everything (munge key and socket, slurm.conf, state, spool, logs, pid files,
job completion log) lives in a temporary folder of its own; the daemons are
started directly (no systemd) on ports chosen free at start::

    with SlurmCluster() as cluster:
        subprocess.run(["sbatch", "--parsable", "job.sh"], env=cluster.env)

``cluster.env`` is a full environment (``os.environ`` without any inherited
``SLURM_*`` variable, plus ``SLURM_CONF``) for the subprocesses that run
``sbatch``/``squeue``/``scontrol``/``scancel``.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from . import LOOPBACK, descendants, free_port, read_pid, tail, terminate, wait_gone

BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol", "scancel")
PARTITION = "debug"
NODE = "localhost"

# Job states after which a job never changes again.
FINAL_STATES = frozenset(
    {
        "COMPLETED",
        "FAILED",
        "CANCELLED",
        "TIMEOUT",
        "NODE_FAIL",
        "PREEMPTED",
        "OUT_OF_MEMORY",
        "BOOT_FAIL",
        "DEADLINE",
        "REVOKED",
        "SPECIAL_EXIT",
    }
)


def _which(name: str) -> str | None:
    # The daemons live in /usr/sbin, which may be missing from a user's PATH.
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")


def slurm_available() -> tuple[bool, str]:
    """Whether the SLURM and munge binaries are installed (and we can run them)."""
    missing = [b for b in BINARIES if _which(b) is None]
    if missing:
        return False, (
            "SLURM not installed (missing " + ", ".join(missing) + "; "
            "apt-get install slurmctld slurmd slurm-client munge)"
        )
    if os.geteuid() != 0:
        return False, "the test SLURM cluster runs slurmd as root: tests must run as root"
    return True, "ok"


def _mem_mb() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return 1024


def _ncpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1


def parse_scontrol(text: str) -> dict[str, str]:
    """``Key=Value`` pairs from ``scontrol show ... -o`` output (one record)."""
    out: dict[str, str] = {}
    for m in re.finditer(r"(?:^|\s)([A-Za-z][\w:/]*)=(\S*)", text):
        out.setdefault(m.group(1), m.group(2))
    return out


class SlurmError(RuntimeError):
    pass


class SlurmCluster:
    """A single-node SLURM cluster (node ``localhost``, partition ``debug``).

    Attributes set by :meth:`start`: ``base`` (the folder), ``conf_path``,
    ``jobcomp_path``, ``env``, ``ctld_port``, ``slurmd_port``, ``cpus``,
    ``memory_mb``, log paths ``slurmctld_log``, ``slurmd_log``, ``munged_log``,
    and ``startup_seconds``.
    """

    def __init__(
        self,
        base_dir: Path | str | None = None,
        *,
        start_timeout: float = 30.0,
        min_job_age: int = 600,
        kill_wait: int = 2,
        cpus: int | None = None,
        keep: bool | None = None,
    ) -> None:
        self._base_arg = Path(base_dir) if base_dir is not None else None
        self.start_timeout = start_timeout
        self.min_job_age = min_job_age
        self.kill_wait = kill_wait
        # CPUs declared for the node: nproc by default; more than the machine
        # has is allowed (SlurmdParameters=config_overrides) to run more jobs at once.
        self.requested_cpus = cpus
        # Keep the folder after stop() (for post-mortem) if asked.
        self.keep = keep if keep is not None else os.environ.get("XPM_NB_KEEP_INFRA") == "1"
        self.base: Path | None = None
        self.env: dict[str, str] = {}
        self._procs: dict[str, subprocess.Popen] = {}
        self._started = False
        self.startup_seconds: float | None = None

    # ------------------------------------------------------------------ paths
    def _paths(self) -> None:
        b = self.base
        assert b is not None
        self.munge_dir = b / "munge"
        self.munge_key_dir = b / "munge-key"
        self.munge_key = self.munge_key_dir / "munge.key"
        self.munge_socket = self.munge_dir / "munge.socket"
        self.munged_pid = b / "munged.pid"
        self.munged_log = b / "munged.log"
        self.munged_seed = b / "munged.seed"
        self.conf_path = b / "slurm.conf"
        self.state_dir = b / "state"
        self.spool_dir = b / "spool"
        self.slurmctld_log = b / "slurmctld.log"
        self.slurmd_log = b / "slurmd.log"
        self.slurmctld_pid = b / "slurmctld.pid"
        self.slurmd_pid = b / "slurmd.pid"
        self.jobcomp_path = b / "jobcomp.txt"

    # ------------------------------------------------------------------ start
    def start(self) -> SlurmCluster:
        if self._started:
            return self
        ok, reason = slurm_available()
        if not ok:
            raise SlurmError(reason)
        t0 = time.monotonic()
        if self._base_arg is not None:
            self._base_arg.mkdir(parents=True, exist_ok=True)
            self.base = self._base_arg
        else:
            # Short path: the munge socket path must stay under 108 bytes.
            self.base = Path(tempfile.mkdtemp(prefix="xpm-slurm-"))
        self._paths()
        self._started = True
        atexit.register(self.stop)
        try:
            self._start_munge()
            self._write_conf()
            self.env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
            self.env["SLURM_CONF"] = str(self.conf_path)
            self.env["PATH"] = self.env.get("PATH", "/usr/bin:/bin") + ":/usr/sbin"
            self._start_daemon(
                "slurmctld", [_which("slurmctld"), "-D", "-i", "-f", str(self.conf_path)]
            )
            self._start_daemon(
                "slurmd", [_which("slurmd"), "-D", "-N", NODE, "-f", str(self.conf_path)]
            )
            self._wait_idle(t0 + self.start_timeout)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def _start_munge(self) -> None:
        # The base folder must be traversable for munged's path checks.
        self.base.chmod(0o755)
        self.munge_key_dir.mkdir(mode=0o700, exist_ok=True)
        self.munge_key_dir.chmod(0o700)
        if not self.munge_key.exists():
            fd = os.open(self.munge_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
            with os.fdopen(fd, "wb") as f:
                f.write(os.urandom(1024))
        self.munge_key.chmod(0o400)
        self.munge_dir.mkdir(exist_ok=True)
        self.munge_dir.chmod(0o755)  # o+x or munged fails: "Socket is inaccessible"
        cmd = [
            _which("munged"),
            "--foreground",
            "--force",
            f"--key-file={self.munge_key}",
            f"--socket={self.munge_socket}",
            f"--pid-file={self.munged_pid}",
            f"--log-file={self.munged_log}",
            f"--seed-file={self.munged_seed}",
            f"--origin={LOOPBACK}",
            "--num-threads=4",
        ]
        self._start_daemon("munged", cmd)
        deadline = time.monotonic() + 10
        while not self.munge_socket.exists():
            self._check_alive("munged")
            if time.monotonic() > deadline:
                raise SlurmError(self._failure("munged did not create its socket in 10 s"))
            time.sleep(0.01)

    def _write_conf(self) -> None:
        self.state_dir.mkdir(exist_ok=True)
        self.spool_dir.mkdir(exist_ok=True)
        self.ctld_port = free_port()
        self.slurmd_port = free_port()
        while self.slurmd_port == self.ctld_port:
            self.slurmd_port = free_port()
        self.cpus = self.requested_cpus or _ncpus()
        overrides = "SlurmdParameters=config_overrides\n" if self.cpus > _ncpus() else ""
        # Stay under what slurmd measures, or the node is drained (Low RealMemory).
        self.memory_mb = max(256, int(_mem_mb() * 0.9))
        conf = f"""\
# Written by tests/infra/slurm.py: a single-node cluster on 127.0.0.1.
ClusterName=xpmtest
SlurmctldHost=localhost({LOOPBACK})
SlurmctldPort={self.ctld_port}
SlurmdPort={self.slurmd_port}
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
SlurmUser=root
SlurmdUser=root
StateSaveLocation={self.state_dir}
SlurmdSpoolDir={self.spool_dir}
SlurmctldPidFile={self.slurmctld_pid}
SlurmdPidFile={self.slurmd_pid}
SlurmctldLogFile={self.slurmctld_log}
SlurmdLogFile={self.slurmd_log}
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
JobCompType=jobcomp/filetxt
JobCompLoc={self.jobcomp_path}
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MinJobAge={self.min_job_age}
KillWait={self.kill_wait}
InactiveLimit=0
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=60
Waittime=0
{overrides}NodeName={NODE} NodeAddr={LOOPBACK} CPUs={self.cpus} RealMemory={self.memory_mb} State=UNKNOWN
PartitionName={PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""
        self.conf_path.write_text(conf)
        # Created up front so tests can read it before the first job ends.
        self.jobcomp_path.touch()

    def _start_daemon(self, name: str, cmd: list[str]) -> None:
        out = open(self.base / f"{name}.out", "ab")
        try:
            self._procs[name] = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env or None,
                cwd=self.base,
                start_new_session=True,  # not hit by the test runner's Ctrl-C
            )
        finally:
            out.close()

    def _check_alive(self, name: str) -> None:
        proc = self._procs.get(name)
        if proc is not None and proc.poll() is not None:
            raise SlurmError(self._failure(f"{name} exited with code {proc.returncode}"))

    def _failure(self, what: str) -> str:
        parts = [f"SLURM test cluster failed to start: {what} (folder {self.base})"]
        for label, path in (
            ("munged log", self.munged_log),
            ("munged output", self.base / "munged.out"),
            ("slurmctld log", self.slurmctld_log),
            ("slurmctld output", self.base / "slurmctld.out"),
            ("slurmd log", self.slurmd_log),
            ("slurmd output", self.base / "slurmd.out"),
        ):
            if Path(path).exists():
                parts.append(f"--- {label} ({path}):\n{tail(path)}")
        return "\n".join(parts)

    def _wait_idle(self, deadline: float) -> None:
        last = ""
        while True:
            for name in ("munged", "slurmctld", "slurmd"):
                self._check_alive(name)
            r = subprocess.run(
                ["sinfo", "-h", "-N", "-n", NODE, "-o", "%T"],
                env=self.env,
                capture_output=True,
                text=True,
                timeout=15,
            )
            last = (r.stdout + r.stderr).strip()
            if r.returncode == 0 and r.stdout.strip() == "idle":
                return
            if time.monotonic() > deadline:
                raise SlurmError(
                    self._failure(
                        f"node {NODE} not idle after {self.start_timeout:.0f} s "
                        f"(last sinfo: {last!r})"
                    )
                )
            time.sleep(0.05)

    # ------------------------------------------------------------------- stop
    def stop(self) -> None:
        """Cancel remaining jobs, stop the daemons, remove the folder. Idempotent."""
        if not self._started:
            return
        self._started = False
        try:
            atexit.unregister(self.stop)
        except Exception:  # pragma: no cover
            pass
        # Read the pids before anything removes the pid files.
        pids: dict[str, int] = {}
        for name, pidfile in (
            ("slurmd", getattr(self, "slurmd_pid", None)),
            ("slurmctld", getattr(self, "slurmctld_pid", None)),
            ("munged", getattr(self, "munged_pid", None)),
        ):
            proc = self._procs.get(name)
            pid = proc.pid if proc is not None else (read_pid(pidfile) if pidfile else None)
            if pid:
                pids[name] = pid
        ctld = self._procs.get("slurmctld")
        if ctld is not None and ctld.poll() is None and self.env:
            self._cancel_all()
        # slurmd first (its slurmstepd children were told to end by scancel),
        # then slurmctld, then munged which both need until the end.
        for name in ("slurmd", "slurmctld", "munged"):
            pid = pids.get(name)
            if pid:
                terminate([pid], timeout=5.0)
            proc = self._procs.get(name)
            if proc is not None:
                try:
                    proc.wait(timeout=2)
                except subprocess.TimeoutExpired:  # pragma: no cover
                    proc.kill()
                    proc.wait()
        self._procs.clear()
        if self.base is not None and self._base_arg is None and not self.keep:
            shutil.rmtree(self.base, ignore_errors=True)

    def _cancel_all(self) -> None:
        try:
            subprocess.run(
                ["scancel", "--full", "-p", PARTITION],
                env=self.env,
                capture_output=True,
                timeout=10,
            )
            # Wait (briefly) for slurmstepd processes of cancelled jobs to end.
            deadline = time.monotonic() + self.kill_wait + 5
            while time.monotonic() < deadline:
                r = subprocess.run(
                    ["squeue", "-h", "-t", "all", "-o", "%T"],
                    env=self.env,
                    capture_output=True,
                    text=True,
                    timeout=10,
                )
                states = set(r.stdout.split())
                if r.returncode != 0 or not (states - FINAL_STATES):
                    break
                time.sleep(0.1)
            slurmd = self._procs.get("slurmd")
            if slurmd is not None:
                wait_gone(descendants(slurmd.pid), 3.0)
        except (OSError, subprocess.SubprocessError):
            pass

    # ---------------------------------------------------------- context mgr
    def __enter__(self) -> SlurmCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --------------------------------------------------------------- helpers
    def run(
        self, *args: str, check: bool = True, timeout: float = 30
    ) -> subprocess.CompletedProcess:
        """Run a SLURM client command against this cluster (text output captured)."""
        r = subprocess.run(
            list(args), env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check and r.returncode != 0:
            raise SlurmError(
                f"{' '.join(args)} exited {r.returncode}: {r.stdout.strip()} {r.stderr.strip()}"
            )
        return r

    def sbatch(self, *args: str, cwd: Path | str | None = None) -> str:
        """``sbatch --parsable ARGS`` in ``cwd``; returns the job id."""
        r = subprocess.run(
            ["sbatch", "--parsable", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            cwd=cwd,
        )
        if r.returncode != 0:
            raise SlurmError(f"sbatch failed ({r.returncode}): {r.stderr.strip()}")
        return r.stdout.strip().split(";")[0]

    def job_info(self, job_id: str) -> dict[str, str]:
        """``scontrol show job -o ID`` as a dict (empty once the job is forgotten)."""
        r = self.run("scontrol", "show", "job", "-o", str(job_id), check=False)
        if r.returncode != 0:
            return {}
        return parse_scontrol(r.stdout)

    def wait_job(self, job_id: str, timeout: float = 60) -> dict[str, str]:
        """Poll until the job reaches a final state; returns ``job_info``."""
        deadline = time.monotonic() + timeout
        while True:
            info = self.job_info(job_id)
            if info.get("JobState") in FINAL_STATES:
                return info
            if time.monotonic() > deadline:
                raise SlurmError(f"job {job_id} not finished after {timeout} s: {info}")
            time.sleep(0.05)

    def wait_state(
        self, job_id: str, states: set[str] | str, timeout: float = 30
    ) -> dict[str, str]:
        """Poll until the job is in one of ``states`` (e.g. ``RUNNING``)."""
        wanted = {states} if isinstance(states, str) else set(states)
        deadline = time.monotonic() + timeout
        while True:
            info = self.job_info(job_id)
            if info.get("JobState") in wanted:
                return info
            if time.monotonic() > deadline:
                raise SlurmError(f"job {job_id} not in {wanted} after {timeout} s: {info}")
            time.sleep(0.05)

    def jobcomp_records(self) -> list[dict[str, str]]:
        """The job completion log (one dict per finished job)."""
        try:
            text = self.jobcomp_path.read_text()
        except OSError:
            return []
        return [parse_scontrol(line) for line in text.splitlines() if line.strip()]
