"""``--xpm-config-dir`` (``set_config_dir``) and where ``settings.yaml`` is looked up."""

from __future__ import annotations

import pytest

from xpm_nb.errors import XPMError
from xpm_nb.experiments.settings import find_workspace, load_settings, settings_file
from xpm_nb.launcherfinder import registry


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """Ours ($XPM_NB_CONFIG_DIR) and the reference's (~/.config/experimaestro), empty."""
    ours, home = tmp_path / "ours", tmp_path / "home"
    ref = home / ".config" / "experimaestro"
    ours.mkdir()
    ref.mkdir(parents=True)
    monkeypatch.setenv("XPM_NB_CONFIG_DIR", str(ours))
    monkeypatch.setenv("HOME", str(home))
    yield ours, ref
    registry.set_config_dir(None)


def test_set_config_dir_is_the_only_folder(folders, tmp_path):
    ours, ref = folders
    (ours / "launchers.yaml").write_text("[]\n")
    (ref / "settings.yaml").write_text("workspaces: []\n")
    assert registry.launchers_file() == ours / "launchers.yaml"
    assert settings_file() == ref / "settings.yaml"
    given = tmp_path / "given"
    given.mkdir()
    registry.set_config_dir(given)
    assert registry.config_folders() == [given]
    assert registry.launchers_file() is None and settings_file() is None
    (given / "launchers.py").write_text("def find_launcher(r, t):\n    return None\n")
    assert registry.launchers_file() == given / "launchers.py"
    registry.set_config_dir(None)
    assert registry.config_folders() == [ours, ref]


def test_set_config_dir_refuses_a_missing_folder(folders, tmp_path):
    with pytest.raises(XPMError, match="not a folder"):
        registry.set_config_dir(tmp_path / "missing")


def test_settings_of_ours_win_over_the_reference(folders):
    ours, ref = folders
    (ref / "settings.yaml").write_text("workspaces: []\n")
    (ours / "settings.yaml").write_text("workspaces: []\n")
    assert settings_file() == ours / "settings.yaml"


def test_settings_format(tmp_path, monkeypatch):
    monkeypatch.setenv("XPM_T_ROOT", str(tmp_path))
    path = tmp_path / "settings.yaml"
    path.write_text("""
env: {A: 1, B: "${env:XPM_T_ROOT}"}
server: {port: 8080, token: t}
history: {max_done: 2}        # the reference's, unused here
carbon: {enabled: false}
workspaces:
  - id: remote
    path: /scratch/ws
    ssh: {host: user@cluster}
    triggers: ["*"]
  - id: main
    path: ${oc.env:XPM_T_ROOT}/main
    env: {B: ws}
    max_retries: 5
    lock_mode: umask
    folders: [{path: /archive, mode: use}]
""")
    settings = load_settings(path)
    assert settings.env == {"A": "1", "B": str(tmp_path)}
    assert settings.server.port == 8080 and settings.server.token == "t"
    main = settings.workspace("main")
    assert main.path == f"{tmp_path}/main" and main.max_retries == 5
    assert main.folders == ["/archive"]
    # The remote one's trigger matches everything, but remote workspaces are never
    # chosen by trigger or default (as the reference).
    ws = find_workspace(experiment_id="anything", settings=settings)
    assert ws.id == "main" and ws.path == tmp_path / "main"
    assert ws.env == {"A": "1", "B": "ws"} and ws.max_retries == 5


@pytest.mark.parametrize("text, words", [
    ("workspaces: {id: x}\n", ["workspaces", "expected a list"]),
    ("workspaces:\n  - id: x\n", ["workspaces[0].path", "Fix:"]),
    ("workspaces:\n  - {id: x, path: /a}\n  - {id: x, path: /b}\n", ["'x' is used twice"]),
    ("workspaces:\n  - {id: x, path: /a, triggers: x*}\n", ["workspaces[0].triggers"]),
    ("server: {port: high}\n", ["server.port", "'high'"]),
    ("workspaces: [\n", ["not valid YAML"]),
])
def test_bad_settings_are_named(tmp_path, text, words):
    path = tmp_path / "settings.yaml"
    path.write_text(text)
    with pytest.raises(XPMError) as info:
        load_settings(path)
    for word in words:
        assert word in str(info.value)
    assert str(path) in str(info.value)


def test_no_workspace_anywhere_says_how_to_give_one(tmp_path):
    from xpm_nb.experiments.settings import Settings

    with pytest.raises(XPMError, match="--workdir") as info:
        find_workspace(experiment_id="x", settings=Settings())
    assert "--workspace" in str(info.value)
