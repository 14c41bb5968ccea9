"""The sandbox's TOTVS Protheus face: REST under `/rest`, JSON in Protheus field names.

Auth: HTTP basic, or the OAuth2 password grant (`POST /rest/api/oauth2/v1/token`) and its
bearer token. Everything under `/rest/api/canon/v1` stands for Canon's custom TLPP service (a
customer builds it; TOTVS ships no such API). Records are addressed by their primary key in
URL-safe unpadded base64 (`A2_FILIAL + A2_COD + A2_LOJA` at their widths, the filial's as the
installation sets it: `protheus_filial_width`): that service's encoding, not FWMODEL's (standard
padded base64; docs/ERP.md). SA2 has the standard bank fields (`A2_BANCO`, `A2_AGENCIA`,
`A2_NUMCON`) and the sandbox's own custom `A2_XIBAN`, `A2_XTITULA`. Lists page with
`page`/`pageSize` and answer `{"items": [...], "hasNext": bool}` (the TOTVS API guide). Writes
take an `Idempotency-Key` header; `GET /rest/api/canon/v1/operations/{key}` looks one up.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from gateway.erp.protheus_keys import pk_decode as decode
from sandbox.erp.backend import RECNO, SandboxRefusal, Tx, po_summary
from sandbox.erp.backend.tables import COLUMNS
from sandbox.erp.common import journal_lookup, perform, sandbox_of

FACE = "protheus"
API = "/api/canon/v1"
JsonBody = Annotated[dict[str, Any], Body()]


def pk_decode(request: Request, prefix: str, pk: str) -> str:
    try:
        return decode(prefix, pk, sandbox_of(request).protheus_filial_width)
    except ValueError as e:
        raise SandboxRefusal(404, str(e)) from e


def error(status: int, message: str) -> dict[str, Any]:
    """TOTVS's error body."""
    return {"code": status, "message": message, "detailedMessage": ""}


def authorised(request: Request) -> None:
    creds = sandbox_of(request).credentials
    header = request.headers.get("authorization")
    if not (creds.basic_ok(header) or creds.bearer_ok(header)):
        raise SandboxRefusal(401, "invalid or missing credentials")


router = APIRouter(prefix="/rest", tags=["sandbox: Protheus"])
secured = APIRouter(prefix=API, dependencies=[Depends(authorised)])


@router.post("/api/oauth2/v1/token", summary="OAuth2 password grant (and refresh)")
def token(
    request: Request,
    grant_type: str,
    username: str = "",
    password: str = "",
    refresh_token: str = "",
) -> JSONResponse:
    creds = sandbox_of(request).credentials
    ok = (
        grant_type == "password" and (username, password) == (creds.username, creds.password)
    ) or (grant_type == "refresh_token" and creds.bearer_ok(f"Bearer {refresh_token}"))
    if not ok:
        return JSONResponse(error(401, "invalid grant"), status_code=401)
    body = {
        "access_token": creds.issue_token(),
        "refresh_token": creds.issue_token(),
        "scope": "default",
        "token_type": "Bearer",
        "expires_in": 3600,
    }
    return JSONResponse(body, status_code=201)


def _row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "R_E_C_D_E_L_"}


def _fields(table: str, body: dict[str, Any]) -> dict[str, str]:
    known = set(COLUMNS[table])
    unknown = sorted(set(body) - known)
    if unknown:
        raise SandboxRefusal(400, f"{table}: field {unknown[0]} does not exist")
    return {k: "" if v is None else str(v) for k, v in body.items()}


def _page(rows: list[dict[str, Any]], size: int) -> dict[str, Any]:
    return {"items": [_row(r) for r in rows[:size]], "hasNext": len(rows) > size}


def _list(
    request: Request, table: str, operation: str, page: int, size: int, cgc: str | None = None
) -> Response:
    db = sandbox_of(request).db

    def read() -> tuple[int, Any, dict[str, str]]:  # read once the faults let the call through
        if cgc is not None:  # a search by CNPJ/CPF: its digits, whatever punctuation a row has
            field, offset = f"{table[1:3]}_CGC", (page - 1) * size
            rows = db.rows_by_digits(table, field, cgc, offset=offset, limit=size + 1)
        else:
            rows = db.rows(table, offset=(page - 1) * size, limit=size + 1)
        return 200, _page(rows, size), {}

    return perform(request, face=FACE, operation=operation, error=error, read=read)


def _party(request: Request, prefix: str, pk: str, operation: str) -> Response:
    native = pk_decode(request, prefix, pk)

    def read() -> tuple[int, Any, dict[str, str]]:
        row = sandbox_of(request).db.read(lambda tx: tx.party(native, live=False))
        return 200, _row(row), {}

    return perform(request, face=FACE, operation=operation, error=error, read=read)


Page = Annotated[int, Query(ge=1)]
PageSize = Annotated[int, Query(alias="pageSize", ge=1, le=1000)]


@secured.get("/suppliers", summary="Suppliers (SA2), page by page; A2_CGC= finds by CNPJ/CPF")
def suppliers(
    request: Request,
    page: Page = 1,
    size: PageSize = 100,
    cgc: Annotated[str | None, Query(alias="A2_CGC", min_length=1, max_length=20)] = None,
) -> Response:
    return _list(request, "SA2010", "supplier.list", page, size, cgc)


@secured.get("/customers", summary="Customers (SA1), page by page; A1_CGC= finds by CNPJ/CPF")
def customers(
    request: Request,
    page: Page = 1,
    size: PageSize = 100,
    cgc: Annotated[str | None, Query(alias="A1_CGC", min_length=1, max_length=20)] = None,
) -> Response:
    return _list(request, "SA1010", "customer.list", page, size, cgc)


@secured.get("/suppliers/{pk}", summary="One supplier (deleted ones too, D_E_L_E_T_ = '*')")
def supplier(request: Request, pk: str) -> Response:
    return _party(request, "SA2", pk, "supplier.read")


@secured.get("/customers/{pk}", summary="One customer")
def customer(request: Request, pk: str) -> Response:
    return _party(request, "SA1", pk, "customer.read")


@secured.post("/suppliers", status_code=201, summary="Create a supplier (MATA020, operation 3)")
def create_supplier(request: Request, body: JsonBody) -> Response:
    fields = _fields("SA2010", body)

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        native = tx.create_party("SA2", fields)
        return 201, _row(tx.party(native)), {"native": native}

    return perform(
        request, face=FACE, operation="supplier.create_record", error=error, apply=apply, body=body
    )


@secured.put("/suppliers/{pk}", summary="Change a supplier (MATA020, operation 4)")
def change_supplier(request: Request, pk: str, body: JsonBody) -> Response:
    native, fields = pk_decode(request, "SA2", pk), _fields("SA2010", body)

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        previous = tx.update("SA2010", int(tx.party(native)[RECNO]), fields)
        return 200, {"record": _row(tx.party(native)), "previous": previous}, {"previous": previous}

    return perform(
        request, face=FACE, operation="supplier.change", error=error, apply=apply, body=body
    )


@secured.delete("/suppliers/{pk}", summary="Delete a supplier (soft: D_E_L_E_T_ = '*')")
def delete_supplier(request: Request, pk: str) -> Response:
    native = pk_decode(request, "SA2", pk)

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        row = tx.party(native)
        tx.soft_delete("SA2010", int(row[RECNO]))
        return 200, _row(tx.party(native, live=False)), {}

    return perform(request, face=FACE, operation="supplier.delete_record", error=error, apply=apply)


@secured.get("/suppliers/{pk}/documents", summary="A supplier's live document links (AC9/ACB)")
def documents(request: Request, pk: str) -> Response:
    native = pk_decode(request, "SA2", pk)
    _, _, code, loja = native.split(":")

    def read() -> tuple[int, Any, dict[str, str]]:
        db = sandbox_of(request).db
        links = db.rows("AC9010", {"AC9_ENTIDA": "SA2", "AC9_CODENT": f"{code}{loja}"})
        items = []
        for link in links:
            for doc in db.rows("ACB010", {"ACB_CODOBJ": link["AC9_CODOBJ"]}):
                items.append({k: doc[k] for k in ("ACB_CODOBJ", "ACB_OBJETO", "ACB_DESCRI")})
        return 200, {"items": items, "hasNext": False}, {}

    return perform(request, face=FACE, operation="supplier.read", error=error, read=read)


@secured.get("/suppliers/{pk}/approvals", summary="A supplier's open approval routings (SCR)")
def approvals(request: Request, pk: str) -> Response:
    native = pk_decode(request, "SA2", pk)
    _, filial, code, loja = native.split(":")

    def read() -> tuple[int, Any, dict[str, str]]:
        rows = sandbox_of(request).db.rows("SCR010", {"CR_NUM": f"{code}{loja}"})
        items = [_row(r) for r in rows if r["CR_FILIAL"] == filial]
        return 200, {"items": items, "hasNext": False}, {}

    return perform(request, face=FACE, operation="supplier.read", error=error, read=read)


@secured.post("/suppliers/{pk}/documents", status_code=201, summary="Attach a document")
def attach(request: Request, pk: str, body: JsonBody) -> Response:
    native = pk_decode(request, "SA2", pk)
    path, description = str(body.get("ACB_OBJETO", "")), str(body.get("ACB_DESCRI", ""))
    if not path:
        raise SandboxRefusal(400, "ACB_OBJETO is required")

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        codobj = tx.attach_document(native, path, description or path)
        _, _, code, loja = native.split(":")
        return (
            201,
            {
                "ACB_CODOBJ": codobj,
                "ACB_OBJETO": path,
                "ACB_DESCRI": description,
                "AC9_ENTIDA": "SA2",
                "AC9_CODENT": f"{code}{loja}",
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


@secured.delete("/suppliers/{pk}/documents/{codobj}", summary="Detach a document")
def detach(request: Request, pk: str, codobj: str) -> Response:
    pk_decode(request, "SA2", pk)

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        tx.detach_document(codobj)
        return 200, {"ACB_CODOBJ": codobj, "D_E_L_E_T_": "*"}, {}

    return perform(
        request, face=FACE, operation="supplier.detach_document", error=error, apply=apply
    )


@secured.post("/suppliers/{pk}/approvals", status_code=201, summary="Start approval routing")
def start_routing(request: Request, pk: str, body: JsonBody) -> Response:
    native = pk_decode(request, "SA2", pk)
    kind = str(body.get("CR_TIPO") or "FO")

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        recno = tx.start_routing(native, kind, date.today().strftime("%Y%m%d"))
        row = tx.find("SCR010", {RECNO: str(recno)})
        assert row is not None
        return 201, _row(row), {}

    return perform(
        request,
        face=FACE,
        operation="supplier.start_approval_routing",
        error=error,
        apply=apply,
        body=body,
    )


@secured.delete("/approvals/{recno}", summary="Cancel an approval routing")
def cancel_routing(request: Request, recno: int) -> Response:
    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        tx.cancel_routing(recno)
        return 200, {RECNO: recno, "CR_STATUS": "05", "D_E_L_E_T_": "*"}, {}

    return perform(
        request, face=FACE, operation="supplier.cancel_approval_routing", error=error, apply=apply
    )


def _po(tx: Tx, native: str) -> dict[str, Any]:
    items = tx.po_items(native)
    return {**po_summary(items), "items": [_row(i) for i in items]}


@secured.get("/purchaseorders", summary="Purchase orders (SC7 headers with items), by page")
def purchase_orders(
    request: Request,
    page: Page = 1,
    size: PageSize = 100,
    supplier_code: Annotated[str | None, Query(alias="C7_FORNECE")] = None,
    supplier_store: Annotated[str | None, Query(alias="C7_LOJA")] = None,
) -> Response:
    db = sandbox_of(request).db
    where = {k: v for k, v in (("C7_FORNECE", supplier_code), ("C7_LOJA", supplier_store)) if v}
    natives = db.purchase_orders(where, offset=(page - 1) * size, limit=size + 1)
    items = db.read(lambda tx: [_po(tx, n) for n in natives[:size]])
    body = {"items": items, "hasNext": len(natives) > size}
    return perform(
        request,
        face=FACE,
        operation="purchase_order.list",
        error=error,
        read=lambda: (200, body, {}),
    )


@secured.get("/purchaseorders/{pk}", summary="One purchase order")
def purchase_order(request: Request, pk: str) -> Response:
    native = pk_decode(request, "SC7", pk)
    return perform(
        request,
        face=FACE,
        operation="purchase_order.read",
        error=error,
        read=lambda: (200, sandbox_of(request).db.read(lambda tx: _po(tx, native)), {}),
    )


@secured.put("/purchaseorders/{pk}", summary="Change a purchase order (MATA120, operation 4)")
def change_purchase_order(request: Request, pk: str, body: JsonBody) -> Response:
    native = pk_decode(request, "SC7", pk)
    fields = _fields("SC7010", body)

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        previous = tx.update_po(native, fields)
        return 200, {"record": _po(tx, native), "previous": previous}, {"previous": previous}

    return perform(
        request, face=FACE, operation="purchase_order.change", error=error, apply=apply, body=body
    )


# -- accounting entries (CT2, SIGACTB) ------------------------------------------------------------
@secured.get("/accountingentries", summary="Accounting entry lines (CT2), page by page")
def accounting_entries(request: Request, page: Page = 1, size: PageSize = 100) -> Response:
    return _list(request, "CT2010", "transaction.list", page, size)


@secured.get("/accountingentries/{pk}", summary="One accounting entry line (deleted ones too)")
def accounting_entry(request: Request, pk: str) -> Response:
    native = pk_decode(request, "CT2", pk)

    def read() -> tuple[int, Any, dict[str, str]]:
        row = sandbox_of(request).db.read(lambda tx: tx.accounting_entry(native, live=False))
        return 200, _row(row), {}

    return perform(request, face=FACE, operation="transaction.read", error=error, read=read)


#: What a change of an entry line may set (CTBA102, operation 4): its accounts, cost centers
#: and history; not its value, date or currency.
ENTRY_CHANGES = {"CT2_DEBITO", "CT2_CREDIT", "CT2_CCD", "CT2_CCC", "CT2_HIST"}


@secured.put("/accountingentries/{pk}", summary="Change an entry line (CTBA102, operation 4)")
def change_accounting_entry(request: Request, pk: str, body: JsonBody) -> Response:
    native, fields = pk_decode(request, "CT2", pk), _fields("CT2010", body)
    if not fields or set(fields) - ENTRY_CHANGES:
        changed = ", ".join(sorted(set(fields) - ENTRY_CHANGES)) or "nothing"
        raise SandboxRefusal(400, f"CT2010: {changed} cannot be changed on a posted entry")

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        previous = tx.update("CT2010", int(tx.accounting_entry(native)[RECNO]), fields)
        record = _row(tx.accounting_entry(native))
        return 200, {"record": record, "previous": previous}, {"previous": previous}

    return perform(
        request, face=FACE, operation="transaction.change", error=error, apply=apply, body=body
    )


@secured.get("/operations", summary="The operation log itself (clients probe that it exists)")
def operations(request: Request) -> Response:
    count = len(sandbox_of(request).db.journal())
    return perform(
        request,
        face=FACE,
        operation="operation.probe",
        error=error,
        read=lambda: (200, {"service": "canon operation log", "operations": count}, {}),
    )


@secured.get("/operations/{key}", summary="The write made with this Idempotency-Key")
def operation(request: Request, key: str) -> Response:
    def read() -> tuple[int, Any, dict[str, str]]:
        return 200, journal_lookup(request, key), {}

    return perform(request, face=FACE, operation="operation.lookup", error=error, read=read)


STAMPED_RESOURCES = {
    "suppliers": ("SA2010", "supplier.changes"),
    "customers": ("SA1010", "customer.changes"),
}


@secured.get(
    "/changes/{resource}",
    summary="Rows changed after a stamp (S_T_A_M_P_), deleted ones too, in stamp order",
)
def changes(
    request: Request,
    resource: str,
    since: Annotated[int, Query(ge=0)] = 0,
    size: PageSize = 100,
) -> Response:
    """The change feed of suppliers or customers: each changed row once, as it is now, with
    its `S_T_A_M_P_`; the next page starts after the last stamp of this one."""
    if resource not in STAMPED_RESOURCES:
        raise SandboxRefusal(404, f"no change feed for {resource}")
    table, operation = STAMPED_RESOURCES[resource]
    rows = sandbox_of(request).db.changes(table, since, limit=size + 1)
    return perform(
        request,
        face=FACE,
        operation=operation,
        error=error,
        read=lambda: (200, _page(rows, size), {}),
    )


router.include_router(secured)
