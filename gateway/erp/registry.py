"""ERP kinds: each one connector class, registered under its name (`CANON_ERP_KIND`).

A connector module registers its class with `@register("protheus")`; the class builds itself
from the deployment's settings with a classmethod `from_settings(settings)`, reading what it
needs by name (`erp_url`, `erp_username`, … and its own `erp_<kind>_*` options). The settings
are any object with those attributes (`api.settings.Settings` in the service): the gateway
never imports the API's settings. Adding an ERP is one module that registers its connector
(docs/ARCHITECTURE.md, "An ERP"); an unknown kind is an error naming the known ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from pydantic import SecretStr

from gateway.erp.base import ErpConnector


class UnknownErpKind(ValueError):
    """An ERP kind no connector is registered under (a ValueError: settings validation shows it)."""


class ErpSettings(Protocol):
    """The settings every connector over the network is built from (`CANON_ERP_*`)."""

    @property
    def erp_url(self) -> str | None: ...

    @property
    def erp_username(self) -> str | None: ...

    @property
    def erp_password(self) -> SecretStr | None: ...

    @property
    def erp_timeout_seconds(self) -> float: ...

    @property
    def erp_lookup_service(self) -> str: ...


@dataclass(frozen=True)
class ErpAccess:
    """Where an ERP is and how to reach it, as plain values."""

    url: str
    username: str
    password: str
    timeout: float
    #: Whether Canon's look-up by idempotency key is installed; None: ask the ERP once.
    lookup_service: bool | None


LOOKUP_SERVICE: dict[str, bool | None] = {"probe": None, "installed": True, "absent": False}


def access(settings: ErpSettings) -> ErpAccess:
    """The plain values of `ErpSettings` (the password unwrapped, the look-up service decided)."""
    password = settings.erp_password.get_secret_value() if settings.erp_password else ""
    return ErpAccess(
        url=settings.erp_url or "",
        username=settings.erp_username or "",
        password=password,
        timeout=settings.erp_timeout_seconds,
        lookup_service=LOOKUP_SERVICE[settings.erp_lookup_service],
    )


class BuiltFromSettings(Protocol):
    """A connector class that builds itself from the settings."""

    @classmethod
    def from_settings(cls, settings: Any) -> ErpConnector: ...


C = TypeVar("C", bound=type[BuiltFromSettings])


@dataclass(frozen=True)
class ErpKind:
    """One registered kind: its name, its connector class, and whether it is reached over the
    network (then the settings must give `erp_url` and credentials)."""

    name: str
    connector: type[BuiltFromSettings]
    remote: bool

    def build(self, settings: Any) -> ErpConnector:
        """The connector, built from the settings."""
        return self.connector.from_settings(settings)


_KINDS: dict[str, ErpKind] = {}


def register(name: str, *, remote: bool = True) -> Callable[[C], C]:
    """Register the decorated connector class as ERP kind `name` (once: a second class under
    the same name is refused, and re-registering the same class changes nothing)."""

    def add(cls: C) -> C:
        known = _KINDS.get(name)
        if known is not None and known.connector is not cls:
            raise ValueError(f"ERP kind {name!r} is already {known.connector.__name__}")
        _KINDS[name] = ErpKind(name, cls, remote)
        return cls

    return add


def unregister(name: str) -> None:
    """Remove a kind (for tests that register a toy ERP)."""
    _KINDS.pop(name, None)


def kinds(*, remote: bool | None = None) -> tuple[str, ...]:
    """The registered kinds, sorted (only those reached over the network, or only the others,
    when `remote` says so)."""
    return tuple(sorted(n for n, k in _KINDS.items() if remote is None or k.remote == remote))


def kind(name: str) -> ErpKind:
    """The kind registered as `name`, or UnknownErpKind naming the known ones."""
    found = _KINDS.get(name)
    if found is None:
        raise UnknownErpKind(f"unknown ERP kind {name!r}: the known kinds are {', '.join(kinds())}")
    return found
