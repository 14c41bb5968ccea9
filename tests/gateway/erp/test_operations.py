"""The operations a connector runs are its methods marked `@runs`: the class declares exactly
those (`operations`, what `gateway.offered` reads), `run` calls the one marked for an operation,
and an operation none runs is refused before anything is sent. The shipped catalog names every
operation a registered connector runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway import load_catalog
from gateway.erp.base import DeclaresOperations, ErpOperation, ErpResult
from gateway.erp.operations import OperationRunner, runs, undone_data
from gateway.erp.registry import kind, kinds
from gateway.errors import ErpUnsupported
from gateway.offered import unnamed_operations

CATALOG_FILE = Path(__file__).resolve().parents[3] / "config" / "actions.yaml"


def _op(operation: str, **params: object) -> ErpOperation:
    return ErpOperation(operation=operation, entity_type="widget", canonical_id="W-1",
                        params=params, idempotency_key=f"k-{operation}")  # fmt: skip


class Painter(OperationRunner):
    name = "Painter"

    def __init__(self) -> None:
        self.sent: list[str] = []

    @runs("widget.paint")
    def _paint(self, op: ErpOperation) -> ErpResult:
        self.sent.append(f"paint {op.params['colour']}")
        return ErpResult(idempotency_key=op.idempotency_key, operation=op.operation,
                         data={"previous": "grey"})  # fmt: skip

    @runs("widget.unpaint", "widget.scrub")
    def _restore(self, op: ErpOperation) -> ErpResult:
        self.sent.append(f"{op.operation} to {undone_data(op)['previous']}")
        return ErpResult(idempotency_key=op.idempotency_key, operation=op.operation)


def test_a_connector_runs_exactly_what_its_marked_methods_run() -> None:
    assert Painter.operations == {"widget.paint", "widget.unpaint", "widget.scrub"}
    assert isinstance(Painter(), DeclaresOperations)
    painter = Painter()
    done = painter.run(_op("widget.paint", colour="red"))
    painter.run(_op("widget.unpaint", undo="widget.paint", result=done.model_dump()))
    assert painter.sent == ["paint red", "widget.unpaint to grey"]


def test_an_operation_no_method_runs_is_refused_before_anything_is_sent() -> None:
    painter = Painter()
    with pytest.raises(ErpUnsupported, match="^widget.burn: not an operation the Painter"):
        painter.run(_op("widget.burn"))
    assert painter.sent == []


def test_a_subclass_adds_operations_and_one_operation_has_one_method() -> None:
    class Polisher(Painter):
        @runs("widget.polish")
        def _polish(self, op: ErpOperation) -> ErpResult:
            return ErpResult(idempotency_key=op.idempotency_key, operation=op.operation)

    assert Polisher.operations == Painter.operations | {"widget.polish"}
    with pytest.raises(TypeError, match="widget.paint is run by both"):

        class Twice(Painter):
            @runs("widget.paint")
            def _paint_again(self, op: ErpOperation) -> ErpResult:
                raise AssertionError("never called")


def test_the_catalog_names_every_operation_a_registered_connector_runs() -> None:
    catalog = load_catalog(CATALOG_FILE)
    declaring = [name for name in kinds() if isinstance(kind(name).connector, DeclaresOperations)]
    assert sorted(declaring) == ["oracle", "protheus", "sap"]  # the ledger journals any
    for name in declaring:
        connector = kind(name).connector
        assert unnamed_operations(connector, catalog) == set(), name
    # what the check catches: an operation that no step of the catalog names
    assert unnamed_operations(Painter, catalog) == Painter.operations
    assert unnamed_operations(kind("ledger").connector, catalog) == set()
