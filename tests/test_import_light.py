"""``import xpm_nb`` stays light, and ``__all__`` is exactly the public API.

Each check runs in a fresh interpreter, so that modules imported by other
tests (or by pytest itself) cannot hide a heavy import.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

HEAVY = [
    "pandas",
    "ipywidgets",
    "anywidget",
    "traitlets",
    "paramiko",
    "click",
    "IPython",
    "numpy",
    "yaml",
    "cloudpickle",
    "fasteners",
]


def _run(code: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_import_loads_no_heavy_module():
    out = _run(
        f"""
        import json, sys
        import xpm_nb
        heavy = {HEAVY!r}
        print(json.dumps({{"loaded": [m for m in heavy if m in sys.modules]}}))
        """
    )
    assert out["loaded"] == [], f"`import xpm_nb` loads {out['loaded']}"


def test_all_names_resolve_without_heavy_imports():
    out = _run(
        f"""
        import json, sys
        import xpm_nb
        missing = [n for n in xpm_nb.__all__ if not hasattr(xpm_nb, n)]
        heavy = {HEAVY!r}
        print(json.dumps({{
            "missing": missing,
            "loaded": [m for m in heavy if m in sys.modules],
        }}))
        """
    )
    assert out["missing"] == [], f"names of xpm_nb.__all__ that do not resolve: {out['missing']}"
    assert out["loaded"] == [], f"resolving xpm_nb.__all__ loads {out['loaded']}"


def test_all_is_sorted_unique_and_matches_public_names():
    out = _run(
        """
        import __future__, json, types
        import xpm_nb
        public = sorted(
            name
            for name, value in vars(xpm_nb).items()
            if not name.startswith("_")
            and not isinstance(value, (types.ModuleType, __future__._Feature))
        )
        print(json.dumps({"all": list(xpm_nb.__all__), "public": public}))
        """
    )
    names = out["all"]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert not duplicates, f"duplicates in xpm_nb.__all__: {duplicates}"
    assert names == sorted(names), "xpm_nb.__all__ is not sorted"
    public = set(out["public"])
    assert set(names) == public, (
        f"in __all__ but not defined: {sorted(set(names) - public)}; "
        f"public but not in __all__: {sorted(public - set(names))}"
    )


def test_lazy_names_resolve():
    """Names loaded on first use (``dir(xpm_nb)``) resolve too."""
    out = _run(
        """
        import json
        import xpm_nb
        missing = []
        for name in dir(xpm_nb):
            try:
                getattr(xpm_nb, name)
            except AttributeError as exc:
                missing.append(f"{name}: {exc}")
        print(json.dumps({"missing": missing}))
        """
    )
    assert out["missing"] == [], f"names of dir(xpm_nb) that do not resolve: {out['missing']}"
