"""ERP connectors: the `ErpConnector` protocol and its implementations.

`LocalLedgerConnector` (an ERP of our own in a SQLite file), and over HTTP `ProtheusConnector`
(TOTVS Protheus REST), `SapConnector` (SAP S/4HANA OData v2) and `OracleConnector` (Oracle
Fusion Cloud REST), each registered under its ERP kind (`gateway.erp.registry`, the
`CANON_ERP_KIND` setting); `fetch_extracts` reads an ERP's master into extract CSVs for training;
the sandbox ERP that stands in for them lives outside the product, in `sandbox.erp`.
"""

from gateway.erp.base import ErpConnector, ErpOperation, ErpRecord, ErpResult
from gateway.erp.extracts import FetchedExtracts, fetch_extracts
from gateway.erp.ledger import LocalLedgerConnector
from gateway.erp.oracle import OracleConnector
from gateway.erp.protheus import ProtheusConnector
from gateway.erp.sap import SapConnector

__all__ = [
    "ErpConnector",
    "ErpOperation",
    "ErpRecord",
    "ErpResult",
    "FetchedExtracts",
    "LocalLedgerConnector",
    "OracleConnector",
    "ProtheusConnector",
    "SapConnector",
    "fetch_extracts",
]
