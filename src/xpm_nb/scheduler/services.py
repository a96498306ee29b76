"""The reference's ``experimaestro.scheduler.services`` path: services live in ``xpm_nb.services``."""

from ..services import Service, ServiceListener, ServiceState, WebService

__all__ = ["Service", "ServiceListener", "ServiceState", "WebService"]
