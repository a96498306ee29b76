"""The on-disk layout: every file and folder of a workspace, a run and a job, and
the small records in them (pid file, markers, ``jobs.jsonl``, ``status.json``).

The one home of these names and parsers, used by every layer: it imports only
the standard library, so the job process and the core import it too.
``paths``: the names; ``pidfile``: the pid file and who it names; ``records``:
markers, ``jobs.jsonl``, ``status.json``.
"""

from __future__ import annotations

from .paths import (
    CURRENT,
    DONE_SUFFIX,
    EVENTS_FILE,
    FAILED_SUFFIX,
    PARAMS_FILE,
    PID_SUFFIX,
    RUN_LOCK_NAME,
    TASK_OUTPUTS_FILE,
    WORKSPACE_MARKER,
    ExperimentPaths,
    JobFiles,
    JobPaths,
    RunPaths,
    WorkspacePaths,
    done_file,
    job_name,
    safe_name,
)
from .pidfile import (
    boot_id,
    parse_pid_file,
    pid_alive,
    pid_content,
    pid_is_live,
    process_identity,
    process_starttime,
    same_process,
)
from .records import (
    DONE,
    ERROR,
    JOBS_JSONL_RULE,
    RUNNING,
    RunJob,
    failed_content,
    folder_state,
    jobs_line,
    parse_failed,
    parse_jobs_lines,
    parse_json_object,
    parse_seconds,
    parse_time,
    run_job_states,
    status_retry_count,
    status_times,
)

__all__ = [
    "CURRENT", "WORKSPACE_MARKER", "DONE_SUFFIX", "FAILED_SUFFIX", "PID_SUFFIX", "EVENTS_FILE", "TASK_OUTPUTS_FILE", "PARAMS_FILE", "RUN_LOCK_NAME",
    "WorkspacePaths", "ExperimentPaths", "RunPaths", "JobPaths", "JobFiles", "job_name", "safe_name",
    "done_file",
    "pid_content", "parse_pid_file", "pid_is_live", "pid_alive", "boot_id",
    "process_starttime", "process_identity", "same_process",
    "DONE", "ERROR", "RUNNING", "failed_content", "parse_failed", "folder_state",
    "RunJob", "jobs_line", "parse_jobs_lines", "JOBS_JSONL_RULE", "parse_json_object",
    "parse_seconds", "parse_time", "status_times", "status_retry_count", "run_job_states",
]
