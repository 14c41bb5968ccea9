"""The sandbox's Oracle Fusion Cloud face: REST under `/fscmRestApi/resources/11.13.18.05`.

`suppliers` (`SupplierId`, `SupplierNumber`; child `addresses`, `sites`, `attachments`),
`externalBankAccounts` (a supplier's bank account, found by its owner party), `hubOrganizations`
(customers: `PartyId`, `PartyNumber`), `purchaseOrders` (read, with `expand=lines.schedules`,
and the published actions `submit`, `close`, `reopen`: no `approve` or `revokeApproval`, which
Oracle does not publish) and `draftPurchaseOrders` (change orders: open one by PATCHing the
draft with `ChangeOrderInitiatingParty`, change `lines/{POLineId}/schedules/{key}`, then
`action/submit`; nothing is in force before the submit). Lists page with `limit` (≤ 500) /
`offset` and answer `items`, `count`, `hasMore`. HTTP basic auth.
Integration extensions: the `approvalRequests` child of a supplier (approval routing) and
`canonOperations/{key}` (writes by key).

As in Oracle's Procurement and Financials REST references (docs.oracle.com, fapra/farfa): a
supplier has no hold or bank attributes of its own. Holds live on its sites
(`HoldAllNewPurchasingDocumentsFlag`, `PurchasingHoldReason`); bank accounts are external bank
accounts owned by the supplier's party (`SupplierPartyId`), with `IBAN` and `BankAccountName`
(the sandbox keeps the holder's name there). Address creation requires `CountryCode`.

Every write body is checked against those references as `gateway.erp.oracle_schema` writes them
down: an unknown attribute, one the resource does not let a PATCH change (or a POST give), or a
missing required one answers 400 naming it. Where the sandbox changes fewer attributes than
Oracle allows, it says so in a 400 of its own.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import Response

from gateway.erp import oracle_schema
from gateway.erp.http import digits
from sandbox.erp.backend import DELETED, RECNO, SandboxRefusal, Tx, po_summary
from sandbox.erp.common import journal_lookup, perform, sandbox_of

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


def checked(resource: str, body: dict[str, Any] | None, *, creating: bool) -> dict[str, Any]:
    """The body, if the published reference allows it (400 naming the attribute otherwise)."""
    try:
        oracle_schema.check(resource, body or {}, creating=creating)
    except oracle_schema.MetadataError as e:
        raise SandboxRefusal(400, str(e)) from e
    return body or {}


def narrower(body: dict[str, Any], changes: set[str], resource: str) -> None:
    """400 for an attribute Oracle lets a PATCH change but the sandbox does not model."""
    if not body or set(body) - changes:
        extra = ", ".join(sorted(set(body) - changes)) or "nothing"
        raise SandboxRefusal(
            400, f"{extra}: the sandbox changes only {', '.join(sorted(changes))} on {resource}"
        )


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
                "Country": "Brazil",
                "CountryCode": "BR",
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
    children = {c.strip() for c in (expand or "").split(",") if c.strip()}
    if children - {"addresses", "sites"}:
        raise SandboxRefusal(400, "expand: addresses, sites")

    def build(tx: Tx) -> list[dict[str, Any]]:
        items = []
        for row in rows[:limit]:
            item = supplier_item(request, tx, row, "addresses" in children)
            if "sites" in children:
                item["sites"] = [site_item(item["SupplierId"], row)]
            items.append(item)
        return items

    items = db.read(build)
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
    checked("suppliers", body, creating=True)
    if set(body) & {"sites", "attachments"}:
        raise SandboxRefusal(400, "the sandbox creates a supplier with its addresses only")
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


SUPPLIER_PATCH = {"InactiveDate"}


@router.patch("/suppliers/{supplier_id}", summary="Change a supplier")
def patch_supplier(request: Request, supplier_id: int, body: JsonBody) -> Response:
    checked("suppliers", body, creating=False)
    narrower(body, SUPPLIER_PATCH, "suppliers")

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        native = _supplier_native(request, supplier_id)
        row = tx.party(native, live=False)
        before = supplier_item(request, tx, row, False)
        if body["InactiveDate"]:
            tx.soft_delete("SA2010", int(row[RECNO]))
        else:
            tx.update("SA2010", int(row[RECNO]), {DELETED: ""})
        after = supplier_item(request, tx, tx.party(native, live=False), True)
        return 200, after, {"previous": {k: before[k] for k in body}}

    return perform(
        request, face=FACE, operation="supplier.change", error=error, apply=apply, body=body
    )


# -- supplier sites (holds) and external bank accounts -----------------------------------------
def site_item(supplier_id: int, row: dict[str, Any]) -> dict[str, Any]:
    held = row["A2_MSBLQL"] == "1"
    return {
        "SupplierSiteId": supplier_id * 10 + 2,
        "SupplierSite": "MAIN",
        "ProcurementBU": "BR Business Unit",
        "HoldAllNewPurchasingDocumentsFlag": held,
        "PurchasingHoldReason": "Held by Canon" if held else None,
    }


@router.get("/suppliers/{supplier_id}/child/sites", summary="A supplier's sites")
def sites(request: Request, supplier_id: int) -> Response:
    def read() -> tuple[int, Any, dict[str, str]]:
        native = _supplier_native(request, supplier_id)
        row = sandbox_of(request).db.read(lambda tx: tx.party(native, live=False))
        items = [site_item(supplier_id, row)]
        return 200, _collection(request, items, 25, 0, False), {}

    return perform(request, face=FACE, operation="supplier.read", error=error, read=read)


SITE_PATCH = {"HoldAllNewPurchasingDocumentsFlag", "PurchasingHoldReason"}


@router.patch("/suppliers/{supplier_id}/child/sites/{site_id}", summary="Change a site")
def patch_site(request: Request, supplier_id: int, site_id: int, body: JsonBody) -> Response:
    checked("suppliers/sites", body, creating=False)
    narrower(body, SITE_PATCH, "supplier sites")
    flag = body.get("HoldAllNewPurchasingDocumentsFlag")
    if flag is not None and not isinstance(flag, bool):
        raise SandboxRefusal(400, "HoldAllNewPurchasingDocumentsFlag: true or false")

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        row = tx.party(_supplier_native(request, supplier_id), live=False)
        before = site_item(supplier_id, row)
        if site_id != before["SupplierSiteId"]:
            raise SandboxRefusal(404, f"site {site_id} of supplier {supplier_id} does not exist")
        if flag is not None:
            tx.update("SA2010", int(row[RECNO]), {"A2_MSBLQL": "1" if flag else "2"})
        after = site_item(supplier_id, tx.party(_supplier_native(request, supplier_id), False))
        return 200, after, {"previous": {k: before[k] for k in body}}

    return perform(
        request, face=FACE, operation="supplier.change", error=error, apply=apply, body=body
    )


def bank_item(supplier_id: int, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "BankAccountId": supplier_id * 10 + 3,
        "CountryCode": "BR",
        "CurrencyCode": "BRL",
        "IBAN": row["A2_XIBAN"] or None,
        "BankAccountName": row["A2_XTITULA"] or None,
        "accountOwners": [{"AccountOwnerPartyIdentifier": supplier_id + 1_000_000}],
    }


@router.get("/externalBankAccounts", summary="External bank accounts, by owner party")
def bank_accounts(request: Request, q: str | None = None) -> Response:
    name, _, value = (q or "").partition("=")
    if name != "accountOwners.AccountOwnerPartyIdentifier" or not value.isdigit():
        raise SandboxRefusal(400, "q: only accountOwners.AccountOwnerPartyIdentifier=<party id>")
    supplier_id = int(value) - 1_000_000

    def read() -> tuple[int, Any, dict[str, str]]:
        native = sandbox_of(request).db.native_of("supplier", "oracle", str(supplier_id))
        items = []
        if native is not None:
            row = sandbox_of(request).db.read(lambda tx: tx.party(native, live=False))
            items = [bank_item(supplier_id, row)]
        return 200, _collection(request, items, 25, 0, False), {}

    return perform(request, face=FACE, operation="supplier.read_bank", error=error, read=read)


BANK_PATCH = {"IBAN": "A2_XIBAN", "BankAccountName": "A2_XTITULA"}


@router.patch("/externalBankAccounts/{account_id}", summary="Change an external bank account")
def patch_bank_account(request: Request, account_id: int, body: JsonBody) -> Response:
    checked("externalBankAccounts", body, creating=False)
    narrower(body, set(BANK_PATCH), "external bank accounts")
    supplier_id = (account_id - 3) // 10

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        native = sandbox_of(request).db.native_of("supplier", "oracle", str(supplier_id))
        if native is None or account_id % 10 != 3:
            raise SandboxRefusal(404, f"external bank account {account_id} does not exist")
        row = tx.party(native, live=False)
        before = bank_item(supplier_id, row)
        tx.update("SA2010", int(row[RECNO]), {BANK_PATCH[k]: str(v or "") for k, v in body.items()})
        after = bank_item(supplier_id, tx.party(native, live=False))
        return 200, after, {"previous": {k: before[k] for k in body}}

    return perform(
        request, face=FACE, operation="supplier.change_bank", error=error, apply=apply, body=body
    )


@router.get("/suppliers/{supplier_id}/child/attachments", summary="A supplier's attachments")
def attachments(request: Request, supplier_id: int) -> Response:
    def read() -> tuple[int, Any, dict[str, str]]:
        native = _supplier_native(request, supplier_id)
        _, _, code, loja = native.split(":")
        db = sandbox_of(request).db
        items = [
            {
                "AttachedDocumentId": int(doc["ACB_CODOBJ"]),
                "DatatypeCode": "WEB_PAGE",
                "URL": doc["ACB_OBJETO"],
                "Title": doc["ACB_DESCRI"],
            }
            for link in db.rows("AC9010", {"AC9_ENTIDA": "SA2", "AC9_CODENT": f"{code}{loja}"})
            for doc in db.rows("ACB010", {"ACB_CODOBJ": link["AC9_CODOBJ"]})
        ]
        return 200, _collection(request, items, 25, 0, False), {}

    return perform(request, face=FACE, operation="supplier.read", error=error, read=read)


@router.post("/suppliers/{supplier_id}/child/attachments", status_code=201)
def attach(request: Request, supplier_id: int, body: JsonBody) -> Response:
    checked("suppliers/attachments", body, creating=True)
    url = str(body.get("URL") or "")
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
#: Ids of lines and schedules: a base plus the SC7 row's R_E_C_N_O_ (one schedule per line).
LINE_BASE, SCHEDULE_BASE = 300_000_300_000_000, 300_000_400_000_000


def _schedule(request: Request, path: str, item: dict[str, Any], date_: str) -> dict[str, Any]:
    recno = int(item[RECNO])
    return {
        "LineLocationId": SCHEDULE_BASE + recno,
        "ScheduleNumber": 1,
        "POLineId": LINE_BASE + recno,
        "LineNumber": int(item["C7_ITEM"]),
        "Quantity": float(item["C7_QUANT"] or 0),
        "RequestedDeliveryDate": _iso(date_),
        "links": [{"rel": "self", "href": f"{path}/{schedule_key(recno)}", "kind": "item"}],
    }


def _line(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "POLineId": LINE_BASE + int(item[RECNO]),
        "LineNumber": int(item["C7_ITEM"]),
        "Item": item["C7_PRODUTO"],
        "Quantity": float(item["C7_QUANT"] or 0),
        "Price": float(item["C7_PRECO"] or 0),
        "Amount": float(item["C7_TOTAL"] or 0),
    }


def po_item(request: Request, tx: Tx, native: str, schedules: bool = False) -> dict[str, Any]:
    """A purchase order as `purchaseOrders` shows it (what is in force: a pending change order
    shows only in `draftPurchaseOrders`); with `schedules`, each line's schedules expanded."""
    items = tx.po_items(native)
    head = po_summary(items)
    supplier_native = f"SA2::{head['C7_FORNECE']}:{head['C7_LOJA']}"
    try:
        supplier: dict[str, Any] | None = tx.party(supplier_native, live=False)
    except SandboxRefusal:  # an extract cut from a larger master may lack the supplier
        supplier = None
    status = {"B": "PENDING APPROVAL", "R": "REJECTED"}.get(head["C7_CONAPRO"], "OPEN")
    header_id = int(tx.ids_of("purchase_order", native)[1])
    href = f"{request.base_url}{BASE[1:]}/purchaseOrders/{po_key(header_id)}"
    lines = []
    for i in items:
        line = _line(i)
        if schedules:
            path = f"{href}/child/lines/{line['POLineId']}/child/schedules"
            line["schedules"] = [_schedule(request, path, i, i["C7_DATPRF"])]
        lines.append(line)
    return {
        "POHeaderId": header_id,
        "links": [{"rel": "self", "href": href, "name": "purchaseOrders", "kind": "item"}],
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
        "lines": lines,
    }


#: `purchaseOrders/{purchaseOrdersUniqID}`: the server's hash key of the composite key, which a
#: client reads from the collection (`links`, rel self) and never builds. The sandbox's is
#: opaque-looking but reversible; a bare POHeaderId is not a key here. Drafts and schedules
#: have keys of their own.
HASH_PREFIX = "00020000000EACED0005770800"
DRAFT_PREFIX = "00020000000EACED0005770801"
SCHEDULE_PREFIX = "00020000000EACED0005770802"


def po_key(header_id: int) -> str:
    return f"{HASH_PREFIX}{header_id:016X}"


def draft_key(header_id: int) -> str:
    return f"{DRAFT_PREFIX}{header_id:016X}"


def schedule_key(recno: int) -> str:
    return f"{SCHEDULE_PREFIX}{recno:016X}"


def _unhash(key: str, prefix: str, what: str) -> int:
    if not key.startswith(prefix) or len(key) != len(prefix) + 16:
        raise SandboxRefusal(404, f"{what} {key} does not exist (use the hash key)")
    try:
        return int(key[len(prefix) :], 16)
    except ValueError as e:
        raise SandboxRefusal(404, f"{what} {key} does not exist") from e


def _header_of(key: str) -> int:
    return _unhash(key, HASH_PREFIX, "purchase order")


def _po_native(request: Request, header: int | str) -> str:
    header_id = _header_of(header) if isinstance(header, str) else header
    native = sandbox_of(request).db.native_of("purchase_order", "oracle", str(header_id))
    if native is None:
        raise SandboxRefusal(404, f"purchase order {header_id} does not exist")
    return native


@router.get("/purchaseOrders", summary="Purchase orders, by limit/offset (q=SupplierId=...)")
def purchase_orders(
    request: Request, limit: Limit = 25, offset: Offset = 0, q: str | None = None
) -> Response:
    db, where = sandbox_of(request).db, {}
    natives: list[str] | None = None
    if q:
        field, _, value = q.partition("=")
        if field == "POHeaderId":
            one = db.native_of("purchase_order", "oracle", value) if value.isdigit() else None
            natives = [one] if one is not None and offset == 0 else []
        else:
            native = db.native_of("supplier", "oracle", value) if field == "SupplierId" else None
            if native is None:
                raise SandboxRefusal(400, "q: SupplierId=<id> of a known supplier, or POHeaderId")
            _, _, code, loja = native.split(":")
            where = {"C7_FORNECE": code, "C7_LOJA": loja}
    if natives is None:
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


def _expands_schedules(expand: str | None) -> bool:
    children = {c.strip() for c in (expand or "").split(",") if c.strip()}
    if children - {"all", "lines", "lines.schedules"}:
        raise SandboxRefusal(400, "expand: lines, lines.schedules or all")
    return bool(children & {"all", "lines.schedules"})


@router.get("/purchaseOrders/{header_id}", summary="One purchase order (by its hash key)")
def purchase_order(request: Request, header_id: str, expand: str | None = None) -> Response:
    schedules = _expands_schedules(expand)

    def read() -> tuple[int, Any, dict[str, str]]:
        native = _po_native(request, header_id)
        item = sandbox_of(request).db.read(lambda tx: po_item(request, tx, native, schedules))
        return 200, item, {}

    return perform(request, face=FACE, operation="purchase_order.read", error=error, read=read)


ACTIONS = {
    "submit": {"C7_CONAPRO": "L"},  # with bypassApprovalsFlag; else the workflow takes it
    "close": {"C7_ENCER": "E"},
    "reopen": {"C7_ENCER": ""},
}


def _bypass(body: dict[str, Any] | None) -> bool:
    bypass = (body or {}).get("bypassApprovalsFlag")
    if not isinstance(bypass, bool | None):
        raise SandboxRefusal(400, "bypassApprovalsFlag: true or false")
    return bool(bypass)


@router.post("/purchaseOrders/{header_id}/action/{name}", summary="submit, close, reopen")
def po_action(
    request: Request,
    header_id: str,
    name: str,
    body: Annotated[dict[str, Any] | None, Body()] = None,
) -> Response:
    if name not in ACTIONS:
        raise SandboxRefusal(404, f"no action {name!r} on purchaseOrders")
    checked(f"purchaseOrders/action/{name}", body, creating=True)
    bypass = _bypass(body) if name == "submit" else False

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        native = _po_native(request, header_id)
        before = po_item(request, tx, native)
        if name == "submit" and before["Status"] != "PENDING APPROVAL":
            raise SandboxRefusal(
                400,
                f"only an order pending approval is resubmitted; this one is {before['Status']}",
            )
        if name != "submit" or bypass:  # a submit without the bypass waits for its approvers
            tx.update_po(native, ACTIONS[name])
        return (
            200,
            {"result": po_item(request, tx, native)},
            {"previous": {"Status": before["Status"]}},
        )

    return perform(
        request, face=FACE, operation=f"purchase_order.{name}", error=error, apply=apply, body=body
    )


# -- change orders (draftPurchaseOrders) --------------------------------------------------------
# As Oracle's use cases describe a change to an order in force: PATCH the draft's header with
# `ChangeOrderInitiatingParty` (this opens an incomplete change order), change its lines'
# schedules, then `action/submit`. Nothing of it is in force (`purchaseOrders`) before the
# submit; a submit without `bypassApprovalsFlag` waits for the approvers.
OPEN = ("", "ChangeOrderDescription")
PENDING = ("", "ChangeOrderStatus")
SCHEDULE_PATCH = {"RequestedDeliveryDate"}


def _draft_native(request: Request, key: str) -> tuple[int, str]:
    header_id = _unhash(key, DRAFT_PREFIX, "draft purchase order")
    return header_id, _po_native(request, header_id)


def _draft_item(request: Request, tx: Tx, native: str) -> dict[str, Any]:
    header_id = int(tx.ids_of("purchase_order", native)[1])
    current = po_item(request, tx, native)
    draft = tx.draft(native) or {}
    href = f"{request.base_url}{BASE[1:]}/draftPurchaseOrders/{draft_key(header_id)}"
    return {
        "POHeaderId": header_id,
        "OrderNumber": current["OrderNumber"],
        "Status": current["Status"],
        "ChangeOrderDescription": draft.get(OPEN),
        "ChangeOrderStatus": draft.get(PENDING, "INCOMPLETE") if draft else None,
        "links": [{"rel": "self", "href": href, "name": "draftPurchaseOrders", "kind": "item"}],
    }


@router.get("/draftPurchaseOrders", summary="Draft purchase orders (q=POHeaderId=<id>)")
def draft_purchase_orders(request: Request, q: str | None = None) -> Response:
    field, _, value = (q or "").partition("=")
    if field != "POHeaderId" or not value.isdigit():
        raise SandboxRefusal(400, "q: only POHeaderId=<id>")
    db = sandbox_of(request).db
    native = db.native_of("purchase_order", "oracle", value)
    items = [] if native is None else [db.read(lambda tx: _draft_item(request, tx, native))]
    body = _collection(request, items, 25, 0, False)
    return perform(
        request,
        face=FACE,
        operation="purchase_order.list",
        error=error,
        read=lambda: (200, body, {}),
    )


@router.patch("/draftPurchaseOrders/{key}", summary="Open (or change) a change order")
def patch_draft(request: Request, key: str, body: JsonBody) -> Response:
    checked("draftPurchaseOrders", body, creating=False)
    party = str(body.get("ChangeOrderInitiatingParty") or "")
    if party.upper() not in ("BUYER", "REQUESTER", "SUPPLIER"):
        raise SandboxRefusal(400, "ChangeOrderInitiatingParty: Buyer, Requester or Supplier")

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        _, native = _draft_native(request, key)
        draft = tx.draft(native) or {}
        if draft.get(PENDING):
            raise SandboxRefusal(400, "the change order is pending approval; it cannot change")
        tx.set_draft(native, *OPEN, str(body.get("ChangeOrderDescription") or "Change order"))
        return 200, _draft_item(request, tx, native), {}

    return perform(
        request, face=FACE, operation="purchase_order.change", error=error, apply=apply, body=body
    )


@router.get("/draftPurchaseOrders/{key}/child/lines", summary="A draft's lines")
def draft_lines(request: Request, key: str) -> Response:
    def read() -> tuple[int, Any, dict[str, str]]:
        _, native = _draft_native(request, key)
        items = sandbox_of(request).db.read(lambda tx: [_line(i) for i in tx.po_items(native)])
        return 200, _collection(request, items, 25, 0, False), {}

    return perform(request, face=FACE, operation="purchase_order.read", error=error, read=read)


def _draft_row(tx: Tx, native: str, line_id: int) -> dict[str, Any]:
    for item in tx.po_items(native):
        if LINE_BASE + int(item[RECNO]) == line_id:
            return item
    raise SandboxRefusal(404, f"line {line_id} is not a line of this order")


@router.get("/draftPurchaseOrders/{key}/child/lines/{line_id}/child/schedules")
def draft_schedules(request: Request, key: str, line_id: int) -> Response:
    def read() -> tuple[int, Any, dict[str, str]]:
        _, native = _draft_native(request, key)

        def build(tx: Tx) -> list[dict[str, Any]]:
            item = _draft_row(tx, native, line_id)
            drafted = (tx.draft(native) or {}).get((item["C7_ITEM"], "RequestedDeliveryDate"))
            path = str(request.url).split("?")[0]
            return [_schedule(request, path, item, drafted or item["C7_DATPRF"])]

        items = sandbox_of(request).db.read(build)
        return 200, _collection(request, items, 25, 0, False), {}

    return perform(request, face=FACE, operation="purchase_order.read", error=error, read=read)


@router.patch("/draftPurchaseOrders/{key}/child/lines/{line_id}/child/schedules/{schedule}")
def patch_draft_schedule(
    request: Request, key: str, line_id: int, schedule: str, body: JsonBody
) -> Response:
    checked("draftPurchaseOrders/lines/schedules", body, creating=False)
    narrower(body, SCHEDULE_PATCH, "schedules")
    wanted = str(body.get("RequestedDeliveryDate") or "")
    if len(digits(wanted)) != 8:
        raise SandboxRefusal(400, "RequestedDeliveryDate: a date, YYYY-MM-DD")

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        _, native = _draft_native(request, key)
        item = _draft_row(tx, native, line_id)
        if _unhash(schedule, SCHEDULE_PREFIX, "schedule") != int(item[RECNO]):
            raise SandboxRefusal(404, f"schedule {schedule} is not a schedule of this line")
        draft = tx.draft(native) or {}
        if OPEN not in draft or draft.get(PENDING):
            raise SandboxRefusal(
                400,
                "no incomplete change order on this order: open one first (PATCH the draft "
                "with ChangeOrderInitiatingParty)",
            )
        tx.set_draft(native, item["C7_ITEM"], "RequestedDeliveryDate", digits(wanted))
        path = str(request.url).rsplit("/", 1)[0]
        return 200, _schedule(request, path, item, digits(wanted)), {}

    return perform(
        request, face=FACE, operation="purchase_order.change", error=error, apply=apply, body=body
    )


@router.post("/draftPurchaseOrders/{key}/action/submit", summary="Submit a change order")
def submit_draft(
    request: Request, key: str, body: Annotated[dict[str, Any] | None, Body()] = None
) -> Response:
    bypass = _bypass(checked("draftPurchaseOrders/action/submit", body, creating=True))

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        _, native = _draft_native(request, key)
        draft = tx.draft(native) or {}
        if OPEN not in draft or draft.get(PENDING):
            raise SandboxRefusal(400, "no incomplete change order on this order to submit")
        if not bypass:  # the approvers decide; nothing is in force yet
            tx.set_draft(native, *PENDING, "PENDING APPROVAL")
            return 200, {"result": "PENDING APPROVAL"}, {}
        previous: dict[str, dict[str, Any]] = {}
        for item in tx.po_items(native):
            wanted = draft.get((item["C7_ITEM"], "RequestedDeliveryDate"))
            if wanted is not None and wanted != item["C7_DATPRF"]:
                label = f"{int(item['C7_ITEM'])}-1"
                previous[label] = {"RequestedDeliveryDate": _iso(item["C7_DATPRF"])}
                tx.update("SC7010", int(item[RECNO]), {"C7_DATPRF": wanted})
        tx.drop_draft(native)
        return 200, {"result": "SUCCESS"}, {"previous": previous}

    return perform(
        request, face=FACE, operation="purchase_order.submit", error=error, apply=apply, body=body
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
