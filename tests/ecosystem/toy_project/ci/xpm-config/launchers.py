"""Everything runs on this machine (pointed at by --xpm-config-dir)."""

from experimaestro.connectors.local import LocalConnector
from experimaestro.launchers.direct import DirectLauncher


def find_launcher(requirements, tags=frozenset()):
    return DirectLauncher(LocalConnector.instance())
