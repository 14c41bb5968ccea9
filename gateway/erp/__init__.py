"""ERP connectors: the `ErpConnector` protocol and its implementations."""

from gateway.erp.base import ErpConnector, ErpOperation, ErpRecord, ErpResult
from gateway.erp.ledger import LocalLedgerConnector

__all__ = ["ErpConnector", "ErpOperation", "ErpRecord", "ErpResult", "LocalLedgerConnector"]
