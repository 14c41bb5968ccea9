"""The sandbox's Oracle Fusion Cloud face: REST under `/fscmRestApi/resources/11.13.18.05`.

`suppliers` (`SupplierId`, `SupplierNumber`; child `addresses`, `attachments`), `hubOrganizations`
(customers: `PartyId`, `PartyNumber`), `purchaseOrders` (read, and custom actions `approve`,
`revokeApproval`, `close`, `reopen`) and `draftPurchaseOrders` (the delivery date). Lists page
with `limit` (≤ 500) / `offset` and answer `items`, `count`, `hasMore`. HTTP basic auth.
Integration extensions: the `approvalRequests` child of a supplier (approval routing), the
supplier's `HoldFlag`, `IBAN`, `BankAccountHolderName`, and `canonOperations/{key}` (writes
by key).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import Response

from api.sandbox_erp.common import journal_lookup, perform, sandbox_of
from gateway.erp.http import digits
from gateway.erp.sandbox import DELETED, RECNO, SandboxRefusal, Tx, po_summary

FACE = "oracle"
BASE = "/fscmRestApi/resources/11.13.18.05"
TAX_TYPES = {"J": "CORPORATION", "F": "INDIVIDUAL", "X": "FOREIGN_CORPORATION"}
CURRENCIES = {"1": "BRL", "2": "USD", "3": "UFIR", "4": "EUR", "5": "JPY"}
JsonBody = Annotated[dict[str, Any], Body()]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0)]


def error(status: int, message: str) -> dict[str, Any]:
    """Oracle REST's error body."""
    return {"title": message, "status": str(status), "o:errorCode": f"SBX-{status}"}


def authorised(request: Request) -> None:
    if not sandbox_of(request).credentials.basic_ok(request.headers.get("authorization")):
        raise SandboxRefusal(401, "invalid or missing credentials")


router = APIRouter(prefix=BASE, tags=["sandbox: Oracle"], dependencies=[Depends(authorised)])


def _iso(yyyymmdd: str) -> str | None:
    return f"{yyyymmdd[:4]}-{yyyymmdd[4:6]}-{yyyymmdd[6:8]}" if len(yyyymmdd or "") == 8 else None


def _collection(
    request: Request, items: list[dict[str, Any]], limit: int, offset: int, more: bool
) -> dict[str, Any]:
    return {
        "items": items,
        "count": len(items),
        "hasMore": more,
        "limit": limit,
        "offset": offset,
        "links": [{"rel": "self", "href": str(request.url)}],
    }


# -- suppliers ------------------------------------------------------------------------------------
def supplier_item(request: Request, tx: Tx, row: dict[str, Any], expand: bool) -> dict[str, Any]:
    native = f"SA2:{row['A2_FILIAL']}:{row['A2_COD']}:{row['A2_LOJA']}"
    supplier_id = int(tx.ids_of("supplier", native)[1])
    item: dict[str, Any] = {
        "SupplierId": supplier_id,
        "SupplierPartyId": supplier_id + 1_000_000,
        "SupplierNumber": f"{row['A2_COD']}-{row['A2_LOJA']}",
        "Supplier": row["A2_NOME"],
        "AlternateName": row["A2_NREDUZ"],
        "TaxOrganizationTypeCode": TAX_TYPES.get(row["A2_TIPO"], "CORPORATION"),
        "BusinessRelationshipCode": "SPEND_AUTHORIZED",
        "TaxpayerId": digits(row["A2_CGC"]),
        "InactiveDate": "2000-01-01" if row[DELETED] == "*" else None,
        "HoldFlag": row["A2_MSBLQL"] == "1",
        "IBAN": row["A2_XIBAN"] or None,
        "BankAccountHolderName": row["A2_XTITULA"] or None,
        "links": [{"rel": "self", "href": f"{request.base_url}{BASE[1:]}/suppliers/{supplier_id}"}],
    }
    if expand:
        item["addresses"] = [
            {
                "SupplierAddressId": supplier_id * 10 + 1,
                "AddressName": "MAIN",
                "AddressLine1": row["A2_END"],
                "City": row["A2_MUN"],
                "State": row["A2_EST"],
                "PostalCode": row["A2_CEP"],
                "Country": "BR",
                "Email": row["A2_EMAIL"] or None,
                "PhoneNumber": row["A2_TEL"] or None,
            }
        ]
    return item


def _supplier_native(request: Request, supplier_id: int) -> str:
    native = sandbox_of(request).db.native_of("supplier", "oracle", str(supplier_id))
    if native is None:
        raise SandboxRefusal(404, f"supplier {supplier_id} does not exist")
    return native


@router.get("/suppliers", summary="Suppliers, by limit/offset")
def suppliers(
    request: Request,
    limit: Limit = 25,
    offset: Offset = 0,
    expand: str | None = None,
    q: str | None = None,
) -> Response:
    db = sandbox_of(request).db
    where = {}
    if q is not None:
        name, _, value = q.partition("=")
        if name != "TaxpayerId" or not value.strip("'"):
            raise SandboxRefusal(400, "q: only TaxpayerId=<number>")
        where = {"A2_CGC": digits(value.strip("'"))}
    rows = db.rows("SA2010", where, offset=offset, limit=limit + 1)
    items = db.read(
        lambda tx: [supplier_item(request, tx, r, expand == "addresses") for r in rows[:limit]]
    )
    body = _collection(request, items, limit, offset, len(rows) > limit)
    return perform(
        request, face=FACE, operation="supplier.list", error=error, read=lambda: (200, body, {})
    )


@router.get("/suppliers/{supplier_id}", summary="One supplier")
def supplier(request: Request, supplier_id: int) -> Response:
    def read() -> tuple[int, Any, dict[str, str]]:
        native = _supplier_native(request, supplier_id)
        item = sandbox_of(request).db.read(
            lambda tx: supplier_item(request, tx, tx.party(native, live=False), True)
        )
        return 200, item, {}

    return perform(request, face=FACE, operation="supplier.read", error=error, read=read)


@router.post("/suppliers", status_code=201, summary="Create a supplier")
def create_supplier(request: Request, body: JsonBody) -> Response:
    if not body.get("Supplier"):
        raise SandboxRefusal(400, "Supplier (the name) is required")
    kinds = {v: k for k, v in TAX_TYPES.items()}
    address = (body.get("addresses") or [{}])[0]
    fields = {
        "A2_NOME": body["Supplier"],
        "A2_NREDUZ": body.get("AlternateName") or str(body["Supplier"])[:20],
        "A2_TIPO": kinds.get(str(body.get("TaxOrganizationTypeCode")), "J"),
        "A2_CGC": body.get("TaxpayerId"),
        "A2_END": address.get("AddressLine1"),
        "A2_MUN": address.get("City"),
        "A2_EST": address.get("State"),
        "A2_CEP": address.get("PostalCode"),
    }
    clean = {k: str(v) for k, v in fields.items() if v}

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        native = tx.create_party("SA2", clean)
        return 201, supplier_item(request, tx, tx.party(native), True), {}

    return perform(
        request, face=FACE, operation="supplier.create_record", error=error, apply=apply, body=body
    )


SUPPLIER_COLUMNS = {
    "HoldFlag": "A2_MSBLQL",
    "IBAN": "A2_XIBAN",
    "BankAccountHolderName": "A2_XTITULA",
}
SUPPLIER_PATCH = {*SUPPLIER_COLUMNS, "InactiveDate"}


@router.patch("/suppliers/{supplier_id}", summary="Change a supplier")
def patch_supplier(request: Request, supplier_id: int, body: JsonBody) -> Response:
    if not body or set(body) - set(SUPPLIER_PATCH):
        raise SandboxRefusal(400, f"patchable here: {', '.join(sorted(SUPPLIER_PATCH))}")

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        native = _supplier_native(request, supplier_id)
        row = tx.party(native, live=False)
        before = supplier_item(request, tx, row, False)
        fields = {
            SUPPLIER_COLUMNS[k]: ("1" if v else "2") if k == "HoldFlag" else str(v or "")
            for k, v in body.items()
            if k in SUPPLIER_COLUMNS
        }
        if fields:
            tx.update("SA2010", int(row[RECNO]), fields)
        if "InactiveDate" in body:
            if body["InactiveDate"]:
                tx.soft_delete("SA2010", int(row[RECNO]))
            else:
                tx.update("SA2010", int(row[RECNO]), {DELETED: ""})
        after = supplier_item(request, tx, tx.party(native, live=False), True)
        return 200, after, {"previous": {k: before[k] for k in body}}

    return perform(
        request, face=FACE, operation="supplier.change", error=error, apply=apply, body=body
    )


@router.post("/suppliers/{supplier_id}/child/attachments", status_code=201)
def attach(request: Request, supplier_id: int, body: JsonBody) -> Response:
    url = str(body.get("URL") or body.get("Url") or "")
    if body.get("DatatypeCode") != "WEB_PAGE" or not url:
        raise SandboxRefusal(400, "attachments here are DatatypeCode WEB_PAGE with a URL")
    title = str(body.get("Title") or url)

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        codobj = tx.attach_document(_supplier_native(request, supplier_id), url, title)
        return (
            201,
            {
                "AttachedDocumentId": int(codobj),
                "DatatypeCode": "WEB_PAGE",
                "URL": url,
                "Title": title,
                "CategoryName": body.get("CategoryName", "MISC"),
            },
            {},
        )

    return perform(
        request,
        face=FACE,
        operation="supplier.attach_document",
        error=error,
        apply=apply,
        body=body,
    )


@router.delete("/suppliers/{supplier_id}/child/attachments/{document_id}", status_code=204)
def detach(request: Request, supplier_id: int, document_id: int) -> Response:
    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        _supplier_native(request, supplier_id)
        tx.detach_document(f"{document_id:010d}")
        return 204, None, {}

    return perform(
        request, face=FACE, operation="supplier.detach_document", error=error, apply=apply
    )


@router.post("/suppliers/{supplier_id}/child/approvalRequests", status_code=201)
def start_routing(request: Request, supplier_id: int, body: JsonBody) -> Response:
    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        native = _supplier_native(request, supplier_id)
        recno = tx.start_routing(native, "FO", date.today().strftime("%Y%m%d"))
        return 201, {"ApprovalRequestId": recno, "Status": "PENDING"}, {}

    return perform(
        request,
        face=FACE,
        operation="supplier.start_approval_routing",
        error=error,
        apply=apply,
        body=body,
    )


@router.delete("/suppliers/{supplier_id}/child/approvalRequests/{request_id}", status_code=204)
def cancel_routing(request: Request, supplier_id: int, request_id: int) -> Response:
    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        _supplier_native(request, supplier_id)
        tx.cancel_routing(request_id)
        return 204, None, {}

    return perform(
        request, face=FACE, operation="supplier.cancel_approval_routing", error=error, apply=apply
    )


# -- customers ---------------------------------------------------------------------------------
@router.get("/hubOrganizations", summary="Customers (TCA organizations), by limit/offset")
def organizations(request: Request, limit: Limit = 25, offset: Offset = 0) -> Response:
    db = sandbox_of(request).db
    rows = db.rows("SA1010", offset=offset, limit=limit + 1)

    def item(row: dict[str, Any]) -> dict[str, Any]:
        native = f"SA1:{row['A1_FILIAL']}:{row['A1_COD']}:{row['A1_LOJA']}"
        return {
            "PartyId": int(db.ids_of("customer", native)[1]),
            "PartyNumber": f"{row['A1_COD']}-{row['A1_LOJA']}",
            "OrganizationName": row["A1_NOME"],
            "TaxpayerIdentificationNumber": digits(row["A1_CGC"]),
            "AddressLine1": row["A1_END"],
            "City": row["A1_MUN"],
            "State": row["A1_EST"],
            "PostalCode": row["A1_CEP"],
            "Country": "BR",
            "EmailAddress": row["A1_EMAIL"] or None,
            "RawPhoneNumber": row["A1_TEL"] or None,
        }

    body = _collection(request, [item(r) for r in rows[:limit]], limit, offset, len(rows) > limit)
    return perform(
        request, face=FACE, operation="customer.list", error=error, read=lambda: (200, body, {})
    )


# -- purchase orders ---------------------------------------------------------------------------
def po_item(request: Request, tx: Tx, native: str) -> dict[str, Any]:
    items = tx.po_items(native)
    head = po_summary(items)
    supplier_native = f"SA2::{head['C7_FORNECE']}:{head['C7_LOJA']}"
    try:
        supplier: dict[str, Any] | None = tx.party(supplier_native, live=False)
    except SandboxRefusal:  # an extract cut from a larger master may lack the supplier
        supplier = None
    status = {"B": "PENDING APPROVAL", "R": "REJECTED"}.get(head["C7_CONAPRO"], "OPEN")
    return {
        "POHeaderId": int(tx.ids_of("purchase_order", native)[1]),
        "OrderNumber": f"{head['C7_FILIAL']}-{head['C7_NUM']}",
        "ProcurementBU": f"BU{head['C7_FILIAL']}",
        "SupplierId": int(tx.ids_of("supplier", supplier_native)[1]) if supplier else None,
        "Supplier": supplier["A2_NOME"] if supplier else None,
        "SupplierSite": "MAIN",
        "Buyer": "Canon Buyer",
        "CurrencyCode": CURRENCIES.get(head["C7_MOEDA"], "BRL"),
        "Total": head["C7_TOTAL"],
        "Status": "CLOSED" if head["C7_ENCER"] == "E" else status,
        "OrderedDate": _iso(head["C7_EMISSAO"]),
        "RequestedDeliveryDate": _iso(head["C7_DATPRF"]),
        "lines": [
            {
                "LineNumber": int(i["C7_ITEM"]),
                "Item": i["C7_PRODUTO"],
                "Quantity": float(i["C7_QUANT"] or 0),
                "Price": float(i["C7_PRECO"] or 0),
                "Amount": float(i["C7_TOTAL"] or 0),
            }
            for i in items
        ],
    }


def _po_native(request: Request, header_id: int) -> str:
    native = sandbox_of(request).db.native_of("purchase_order", "oracle", str(header_id))
    if native is None:
        raise SandboxRefusal(404, f"purchase order {header_id} does not exist")
    return native


@router.get("/purchaseOrders", summary="Purchase orders, by limit/offset (q=SupplierId=...)")
def purchase_orders(
    request: Request, limit: Limit = 25, offset: Offset = 0, q: str | None = None
) -> Response:
    db, where = sandbox_of(request).db, {}
    if q:
        field, _, value = q.partition("=")
        native = db.native_of("supplier", "oracle", value) if field == "SupplierId" else None
        if native is None:
            raise SandboxRefusal(400, "q: only SupplierId=<id> of a known supplier")
        _, _, code, loja = native.split(":")
        where = {"C7_FORNECE": code, "C7_LOJA": loja}
    natives = db.purchase_orders(where, offset=offset, limit=limit + 1)
    items = db.read(lambda tx: [po_item(request, tx, n) for n in natives[:limit]])
    body = _collection(request, items, limit, offset, len(natives) > limit)
    return perform(
        request,
        face=FACE,
        operation="purchase_order.list",
        error=error,
        read=lambda: (200, body, {}),
    )


@router.get("/purchaseOrders/{header_id}", summary="One purchase order")
def purchase_order(request: Request, header_id: int) -> Response:
    def read() -> tuple[int, Any, dict[str, str]]:
        native = _po_native(request, header_id)
        return 200, sandbox_of(request).db.read(lambda tx: po_item(request, tx, native)), {}

    return perform(request, face=FACE, operation="purchase_order.read", error=error, read=read)


ACTIONS = {
    "approve": {"C7_CONAPRO": "L"},
    "revokeApproval": {"C7_CONAPRO": "B"},
    "close": {"C7_ENCER": "E"},
    "reopen": {"C7_ENCER": ""},
}


@router.post("/purchaseOrders/{header_id}/action/{name}", summary="approve, close, reopen…")
def po_action(request: Request, header_id: int, name: str) -> Response:
    if name not in ACTIONS:
        raise SandboxRefusal(404, f"no action {name!r} on purchaseOrders")

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        native = _po_native(request, header_id)
        before = po_item(request, tx, native)
        tx.update_po(native, ACTIONS[name])
        return (
            200,
            {"result": po_item(request, tx, native)},
            {"previous": {"Status": before["Status"]}},
        )

    return perform(request, face=FACE, operation=f"purchase_order.{name}", error=error, apply=apply)


@router.patch("/draftPurchaseOrders/{header_id}", summary="Change the delivery date")
def patch_draft(request: Request, header_id: int, body: JsonBody) -> Response:
    wanted = str(body.get("RequestedDeliveryDate") or "")
    if set(body) != {"RequestedDeliveryDate"} or len(digits(wanted)) != 8:
        raise SandboxRefusal(400, "patchable here: RequestedDeliveryDate (YYYY-MM-DD)")

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        native = _po_native(request, header_id)
        before = po_item(request, tx, native)
        tx.update_po(native, {"C7_DATPRF": digits(wanted)})
        previous = {"RequestedDeliveryDate": before["RequestedDeliveryDate"]}
        return 200, po_item(request, tx, native), {"previous": previous}

    return perform(
        request, face=FACE, operation="purchase_order.change", error=error, apply=apply, body=body
    )


@router.get("/canonOperations", summary="The operation log itself (clients probe it exists)")
def operations(request: Request) -> Response:
    count = len(sandbox_of(request).db.journal())
    body = {"items": [], "count": 0, "hasMore": count > 0, "limit": 0, "offset": 0}
    return perform(
        request, face=FACE, operation="operation.probe", error=error, read=lambda: (200, body, {})
    )


@router.get("/canonOperations/{key}", summary="The write made with this Idempotency-Key")
def operation(request: Request, key: str) -> Response:
    def read() -> tuple[int, Any, dict[str, str]]:
        return 200, journal_lookup(request, key), {}

    return perform(request, face=FACE, operation="operation.lookup", error=error, read=read)
