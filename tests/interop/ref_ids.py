"""Compute the identifiers of the interop corpus with one package.

    python ref_ids.py <pkg_name> <out.json> [<workdir>]

Run with the reference venv's python for ``experimaestro``, or with the
project's python for ``xpm_nb``. Writes ``{case: hex | {"error": "..."}}``;
the dry-run experiment of the submitted cases lives in ``workdir`` (a
temporary folder by default).
"""

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus  # noqa: E402


def main(argv: list) -> int:
    if len(argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    pkg_name, out = argv[1], Path(argv[2])
    with tempfile.TemporaryDirectory(prefix="xpm-interop-") as tmp:
        workdir = Path(argv[3]) if len(argv) == 4 else Path(tmp) / "ws"
        results = corpus.compute_ids(pkg_name, workdir)
    out.write_text(json.dumps(results, indent=1, sort_keys=True, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
