"""The tokens' former home: they live in :mod:`xpm_nb.tokens` (a host concern that
connectors and launchers use too); these names stay importable from here."""

from ..tokens import CounterToken, TokenDependency

__all__ = ["CounterToken", "TokenDependency"]
