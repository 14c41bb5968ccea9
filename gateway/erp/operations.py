"""The operations a connector runs: each one method of the connector, marked `@runs(...)`.

The catalog says which operations exist (each action's steps name an `operation` and the
`compensation` that undoes it, `config/actions.yaml`); a connector runs one by a method marked
with its name:

    class ToyConnector(OperationRunner):
        @runs("widget.paint", "widget.unpaint")
        def _paint(self, operation: ErpOperation) -> ErpResult: ...

A connector class built on `Handlers` declares, as its class-level `operations`, exactly the
names its marked methods run (`gateway.erp.base.DeclaresOperations`: what `gateway.offered`
reads), and `handle(operation)` calls the method marked for it; an operation no method runs is
refused (`ErpUnsupported`) before anything is read or sent. What a handler gives back is the
connector family's: a result (`OperationRunner`), or the one request that runs the operation
(`gateway.erp.http.RequestRunner`, which sends it). Adding an action is its catalog entry and,
on each ERP that runs it, one marked method (docs/ARCHITECTURE.md, "An action").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar, Generic, TypeVar

from gateway.erp.base import ErpOperation, ErpResult
from gateway.errors import ErpUnsupported

R = TypeVar("R")
M = TypeVar("M", bound=Callable[..., Any])
#: The attribute `runs` puts on a method: the operations it runs.
_RUNS = "__canon_runs__"


def runs(*operations: str) -> Callable[[M], M]:
    """Mark a connector method as the one that runs these operations (one, or a small family
    sharing code, such as the field-setting ones driven by a table)."""
    if not operations or not all(operations):
        raise ValueError("runs: name at least one operation")

    def mark(method: M) -> M:
        setattr(method, _RUNS, tuple(operations))
        return method

    return mark


def unsupported(name: str, operation: str) -> ErpUnsupported:
    """The refusal of an operation (or read) the named connector does not know."""
    return ErpUnsupported(f"{operation}: not an operation the {name} connector knows")


def undone_data(operation: ErpOperation) -> dict[str, Any]:
    """What the step a compensation undoes answered (its `ErpResult.data`): a compensation's
    params are `{"undo": operation, "result": the step's ErpResult}`."""
    return dict(dict(operation.params.get("result") or {}).get("data") or {})


class Handlers(Generic[R]):
    """A connector whose operations are its methods marked with `runs`, each giving an `R`."""

    #: The ERP as people name it (the refusal of an unknown operation names it).
    name: str = ""
    #: What this connector runs (`DeclaresOperations`): the operations of its marked methods.
    operations: frozenset[str] = frozenset()
    #: operation -> the name of the method that runs it.
    _handlers: ClassVar[Mapping[str, str]] = MappingProxyType({})

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        handlers: dict[str, str] = {}
        for attribute in dir(cls):
            for operation in getattr(getattr(cls, attribute, None), _RUNS, ()):
                if operation in handlers:
                    raise TypeError(
                        f"{cls.__name__}: {operation} is run by both {handlers[operation]} "
                        f"and {attribute}"
                    )
                handlers[operation] = attribute
        cls._handlers = MappingProxyType(handlers)
        cls.operations = frozenset(handlers)

    def handle(self, operation: ErpOperation) -> R:
        """What the method marked for `operation.operation` gives; `unknown` when none is."""
        attribute = self._handlers.get(operation.operation)
        if attribute is None:
            raise self.unknown(operation)
        handler: Callable[[ErpOperation], R] = getattr(self, attribute)
        return handler(operation)

    def unknown(self, operation: ErpOperation) -> ErpUnsupported:
        """The refusal of an operation no method runs (a connector may say more about one)."""
        return unsupported(self.name or type(self).__name__, operation.operation)


class OperationRunner(Handlers[ErpResult]):
    """A connector whose marked methods each run their operation and give its result."""

    def run(self, operation: ErpOperation) -> ErpResult:
        """Run the operation by the method marked for it (`ErpConnector.run`)."""
        return self.handle(operation)
