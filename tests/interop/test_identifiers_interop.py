"""xpm_nb's identifiers must be byte-identical to those of experimaestro 2.7.0.

The corpus (``corpus.py``) is built once by the reference, in its own virtual
environment (``ref_ids.py`` run as a subprocess), and once by xpm_nb in this
process; the results are compared case by case. Where the reference raises,
xpm_nb must raise too.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

import pytest

from support.integration import need
from support.refvenv import ref_python

HERE = Path(__file__).resolve().parent

# Loaded by path: the corpus is not a package module (ref_ids.py imports it too).
_spec = importlib.util.spec_from_file_location("xpm_interop_corpus", HERE / "corpus.py")
corpus = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(corpus)

pytestmark = pytest.mark.interop

CASES = corpus.case_names()
SPEC = [name for name, _ in corpus.SPEC_VECTORS]


def _is_error(result) -> bool:
    return isinstance(result, dict)


@pytest.fixture(scope="module")
def ref_ids(tmp_path_factory) -> dict:
    """The reference's results for the whole corpus (computed once)."""
    python = ref_python()
    need(python is not None, "reference venv (experimaestro 2.7.0) unavailable")
    tmp = tmp_path_factory.mktemp("ref-ids")
    out = tmp / "ref.json"
    proc = subprocess.run(
        [str(python), str(HERE / "ref_ids.py"), "experimaestro", str(out), str(tmp / "ws")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"ref_ids.py failed:\n{proc.stderr[-5000:]}"
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def nb_ids(tmp_path_factory) -> dict:
    """xpm_nb's results for the whole corpus, in this process (computed once)."""
    return corpus.compute_ids("xpm_nb", tmp_path_factory.mktemp("nb-ids") / "ws")


@pytest.mark.parametrize("name", CASES)
def test_identifier(name, ref_ids, nb_ids):
    assert name in ref_ids, f"the reference produced no result for {name}"
    ref, nb = ref_ids[name], nb_ids.get(name, {"error": "no result"})
    if name in corpus.XPM_NB_STRICTER:
        assert not _is_error(ref), f"the reference now refuses {name}: drop it from the list"
        assert _is_error(nb), f"xpm_nb should refuse {name}, it gives {nb}"
        assert "FieldTypeError" in nb["error"] or "expected" in nb["error"], nb
        return
    if _is_error(ref):
        assert _is_error(nb), f"the reference raises ({ref['error']}), xpm_nb gives {nb}"
    else:
        assert not _is_error(nb), f"xpm_nb raises: {nb['error']}"
        assert nb == ref


def test_reference_errors_are_intended(ref_ids):
    """Every case yields an identifier in the reference, except the intended errors."""
    errors = {name: r["error"] for name, r in ref_ids.items() if _is_error(r)}
    assert set(errors) == corpus.EXPECTED_ERRORS, errors
    assert set(ref_ids) == set(CASES)


@pytest.mark.parametrize("name", SPEC)
def test_spec_vector_reference(name, ref_ids):
    assert ref_ids[f"spec/{name}"] == dict(corpus.SPEC_VECTORS)[name]


@pytest.mark.parametrize("name", SPEC)
def test_spec_vector_xpm_nb(name, nb_ids):
    assert nb_ids[f"spec/{name}"] == dict(corpus.SPEC_VECTORS)[name]


@pytest.mark.parametrize(
    "a, b, same",
    [(a, b, True) for a, b in corpus.SAME_ID] + [(a, b, False) for a, b in corpus.DIFFERENT_ID],
    ids=lambda v: v if isinstance(v, str) else ("same" if v else "different"),
)
def test_relation(a, b, same, ref_ids, nb_ids):
    """Equalities the rules imply hold on both sides (the reference first)."""
    for side, ids in (("reference", ref_ids), ("xpm_nb", nb_ids)):
        ra, rb = ids.get(a), ids.get(b)
        assert not _is_error(ra) and not _is_error(rb), f"{side}: {ra} / {rb}"
        assert (ra == rb) is same, f"{side}: {a}={ra} {b}={rb}"
