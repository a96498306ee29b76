"""SSH connector: run jobs on a remote host, from the notebook.

::

    from xpm_nb.connectors.ssh import SshConnector, SshPath

    host = SshConnector.get("cluster")            # an alias of ~/.ssh/config
    ws = "ssh://cluster//scratch/me/workspace"     # a workspace on that host
    with experiment(ws, "remote") as xp:           # jobs run there (DirectLauncher)
        ...

Files go over SFTP, processes and locks over SSH commands; the remote host
needs Python with ``xpm_nb`` (``python=`` names it). See ``connector.py``.
"""

from .connector import SshConnector
from .path import SshPath, is_ssh_url
from .process import SshPidProcess, SshProcess

__all__ = ["SshConnector", "SshPath", "SshProcess", "SshPidProcess", "is_ssh_url"]
