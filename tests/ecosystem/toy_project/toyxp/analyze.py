"""Read a finished run back: its jobs, tags and results (load_xp_info)."""

import json
import sys
from pathlib import Path

from experimaestro import load_xp_info, tags


def summary(run_dir: Path) -> dict:
    info = load_xp_info(run_dir)
    rows = []
    for job_id, task in sorted(info.jobs.items()):
        rows.append({"job": job_id, "task": type(task).__name__.replace(".XPMConfig", ""),
                     "lr": getattr(task, "lr", None), "init": task.model.init,
                     "tags": dict(tags(task))})
    return {"jobs": rows}


if __name__ == "__main__":
    print(json.dumps(summary(Path(sys.argv[1])), sort_keys=True))
