"""The sandbox's SAP S/4HANA face: OData v2 under `/sap/opu/odata/sap`.

`API_BUSINESS_PARTNER` (`A_BusinessPartner` with its addresses, tax numbers and supplier or
customer role; `A_BusinessPartnerBank`), `API_PURCHASEORDER_PROCESS_SRV` (`A_PurchaseOrder`),
`API_CV_ATTACHMENT_SRV` (URL attachments), and two custom services of the integration:
`ZCANON_APPROVAL_SRV` (approval routing) and `ZCANON_IDEMPOTENCY_SRV` (writes by key).
JSON is wrapped in `{"d": ...}`, entities carry `__metadata` with their ETag. Writes need the
CSRF token fetched with `x-csrf-token: Fetch` (and the session cookie); a PATCH needs `If-Match`
(428 without, 412 when stale). Bodies are checked against the published metadata
(`gateway.erp.sap_schema`): an unknown property, or one SAP marks not updatable, answers 400.

Paging is SAP's: `$top` is a hard cap (at most that many rows, and no `__next` past it); the
server sends at most `SERVER_PAGE` rows per answer and, when it cut the answer short, a
`__next` link with `$skiptoken`. `$inlinecount=allpages` adds `__count`.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sys
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import Response

from gateway.erp import sap_schema
from gateway.erp.http import digits
from sandbox.erp.backend import DELETED, RECNO, SandboxRefusal, Tx
from sandbox.erp.common import perform, sandbox_of

FACE = "sap"
BASE = "/sap/opu/odata/sap"
BP_SRV, PO_SRV = "API_BUSINESS_PARTNER", "API_PURCHASEORDER_PROCESS_SRV"
SESSION_COOKIE = "SAP_SESSIONID_SBX_100"
#: Business-partner roles (`A_BusinessPartnerRole.BusinessPartnerRole`) of a supplier, customer.
SUPPLIER_ROLES, CUSTOMER_ROLES = ("FLVN00", "FLVN01"), ("FLCU00", "FLCU01")
#: Rows per answer when the server pages by itself (SAP Gateway's page size is configured per
#: service; 100 is common when the client gives no `$top`).
SERVER_PAGE = 100
#: The sandbox system's one business-partner grouping (groupings are configured per system).
GROUPING = "0001"
PO_STATUS = {"L": "05", "B": "02", "R": "08"}
JsonBody = Annotated[dict[str, Any], Body()]


def checked(body: dict[str, Any], entity_set: str, *, creating: bool) -> dict[str, Any]:
    """The body, if the published metadata allows it (400 naming the property otherwise)."""
    try:
        sap_schema.check(entity_set, body, creating=creating)
    except sap_schema.MetadataError as e:
        raise SandboxRefusal(400, str(e)) from e
    return body


def error(status: int, message: str) -> dict[str, Any]:
    """OData v2's error body."""
    return {"error": {"code": f"SBX/{status}", "message": {"lang": "en", "value": message}}}


def authorised(request: Request) -> None:
    creds = sandbox_of(request).credentials
    if not creds.basic_ok(request.headers.get("authorization")):
        raise SandboxRefusal(401, "invalid or missing credentials")
    if request.method in ("GET", "HEAD"):
        return
    session = request.cookies.get(SESSION_COOKIE, "")
    token = request.headers.get("x-csrf-token", "")
    with creds.lock:
        expected = creds.csrf.get(session)
    if not expected or not secrets.compare_digest(token, expected):
        raise SandboxRefusal(403, "CSRF token validation failed")


router = APIRouter(prefix=BASE, tags=["sandbox: SAP"], dependencies=[Depends(authorised)])


def answer(request: Request, response: Response) -> Response:
    """Hand out a CSRF token (and session) when the request asks `x-csrf-token: Fetch`."""
    if request.headers.get("x-csrf-token", "").lower() == "fetch":
        creds = sandbox_of(request).credentials
        session = request.cookies.get(SESSION_COOKIE) or secrets.token_hex(16)
        with creds.lock:
            token = creds.csrf.setdefault(session, secrets.token_urlsafe(18))
        response.headers["x-csrf-token"] = token
        response.set_cookie(SESSION_COOKIE, session, httponly=True)
    return response


def etag(entity: dict[str, Any]) -> str:
    flat = {k: v for k, v in entity.items() if not isinstance(v, dict)}
    digest = hashlib.sha1(json.dumps(flat, sort_keys=True).encode(), usedforsecurity=False)
    return f'W/"{digest.hexdigest()[:16]}"'


def odata_date(yyyymmdd: str) -> str | None:
    if len(yyyymmdd or "") != 8:
        return None
    moment = datetime.strptime(yyyymmdd, "%Y%m%d").replace(tzinfo=UTC)
    return f"/Date({int(moment.timestamp() * 1000)})/"


def from_odata_date(value: str) -> str:
    match = re.fullmatch(r"/Date\((-?\d+)\)/", value or "")
    if match is None:
        raise SandboxRefusal(400, f"{value!r} is not an OData date (/Date(ms)/)")
    return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=UTC).strftime("%Y%m%d")


def filters(text: str | None) -> dict[str, str]:
    """`A eq 'x' and B ne ''` -> {A: x, B: "!="} (the only $filter forms the sandbox reads)."""
    if not text:
        return {}
    clauses = re.split(r"\s+and\s+", text.strip())
    found: dict[str, str] = {}
    for clause in clauses:
        match = re.fullmatch(r"(\w+)\s+(eq|ne)\s+'([^']*)'", clause.strip())
        if match is None or (match.group(2) == "ne" and match.group(3)):
            raise SandboxRefusal(
                400, f"$filter {text!r}: only `Field eq 'value'` and `Field ne ''` are read"
            )
        name, op, value = match.groups()
        found[name] = value if op == "eq" else "!="
    return found


def page_window(top: int | None, skiptoken: str | None) -> tuple[int, int, int]:
    """(rows already sent in this request, rows to send now, the `$top` still to honour)."""
    sent = 0
    if skiptoken is not None:
        if not skiptoken.isdigit():
            raise SandboxRefusal(400, f"$skiptoken {skiptoken!r} was not issued by this server")
        sent = int(skiptoken)
    left = sys.maxsize if top is None else max(0, top - sent)
    return sent, min(SERVER_PAGE, left), left


def collection(
    request: Request, results: list[dict[str, Any]], sent: int, more: bool, count: int | None
) -> dict[str, Any]:
    """A collection's `d`: its page, `__count` when asked, `__next` when the server cut it."""
    body: dict[str, Any] = {"results": results}
    if count is not None:
        body["__count"] = str(count)
    if more:
        token = str(sent + len(results))
        body["__next"] = str(request.url.include_query_params(**{"$skiptoken": token}))
    return body


def _meta(request: Request, entity_set: str, key: str, kind: str, entity: dict[str, Any]) -> None:
    uri = f"{request.base_url}{BASE.lstrip('/')}/{entity_set}({key})"
    entity["__metadata"] = {"id": uri, "uri": uri, "type": f"{kind}Type", "etag": etag(entity)}


# -- business partners ------------------------------------------------------------------------
def bp_entity(
    request: Request, tx: Tx, kind: str, row: dict[str, Any], expand: bool
) -> dict[str, Any]:
    prefix = "SA2" if kind == "supplier" else "SA1"
    p = prefix[1:]
    native = f"{prefix}:{row[f'{p}_FILIAL']}:{row[f'{p}_COD']}:{row[f'{p}_LOJA']}"
    bp = tx.ids_of(kind, native)[0]
    person = (row.get(f"{p}_TIPO") or row.get(f"{p}_PESSOA")) == "F"
    name = str(row[f"{p}_NOME"])
    first, _, last = name.partition(" ")
    entity: dict[str, Any] = {
        "BusinessPartner": bp,
        "BusinessPartnerCategory": "1" if person else "2",
        "BusinessPartnerFullName": name,
        "OrganizationBPName1": "" if person else name[:40],
        "FirstName": first if person else "",
        "LastName": last if person else "",
        "SearchTerm1": str(row[f"{p}_NREDUZ"])[:20],
        "BusinessPartnerGrouping": GROUPING,
        "Supplier": bp if kind == "supplier" else "",
        "Customer": bp if kind == "customer" else "",
        "BusinessPartnerIsBlocked": row[f"{p}_MSBLQL"] == "1",
        "IsMarkedForArchiving": row[DELETED] == "*",
    }
    _meta(request, f"{BP_SRV}/A_BusinessPartner", f"'{bp}'", f"{BP_SRV}.A_BusinessPartner", entity)
    if expand:
        tax = digits(row[f"{p}_CGC"])
        entity["to_BusinessPartnerAddress"] = {
            "results": [
                {
                    "BusinessPartner": bp,
                    "AddressID": "1",
                    "StreetName": row[f"{p}_END"],
                    "CityName": row[f"{p}_MUN"],
                    "PostalCode": row[f"{p}_CEP"],
                    "Region": row[f"{p}_EST"],
                    "Country": "BR",
                    "to_EmailAddress": {
                        "results": [{"EmailAddress": row[f"{p}_EMAIL"]}]
                        if row.get(f"{p}_EMAIL")
                        else []
                    },
                    "to_PhoneNumber": {
                        "results": [{"PhoneNumber": row[f"{p}_TEL"]}] if row.get(f"{p}_TEL") else []
                    },
                }
            ]
        }
        entity["to_BusinessPartnerTax"] = {
            "results": [
                {
                    "BusinessPartner": bp,
                    "BPTaxType": "BR1" if len(tax) == 14 else "BR2",
                    "BPTaxNumber": tax,
                }
            ]
            if tax
            else []
        }
        roles = SUPPLIER_ROLES if kind == "supplier" else CUSTOMER_ROLES
        entity["to_BusinessPartnerRole"] = {
            "results": [{"BusinessPartner": bp, "BusinessPartnerRole": r} for r in roles]
        }
        role = "to_Supplier" if kind == "supplier" else "to_Customer"
        entity[role] = supplier_entity(request, bp, entity["BusinessPartnerIsBlocked"], kind)
    return entity


def supplier_entity(request: Request, bp: str, blocked: bool, kind: str) -> dict[str, Any]:
    """The supplier (or customer) role of a partner; its blocks are the sandbox's one flag."""
    if kind != "supplier":
        return {"Customer": bp, "PostingIsBlocked": blocked}
    entity = {"Supplier": bp, "PurchasingIsBlocked": blocked, "PostingIsBlocked": blocked}
    _meta(request, f"{BP_SRV}/A_Supplier", f"'{bp}'", f"{BP_SRV}.A_Supplier", entity)
    return entity


SUPPLIER_PATCH = {"PurchasingIsBlocked", "PostingIsBlocked"}


@router.get(f"/{BP_SRV}/A_Supplier('{{bp}}')", summary="A business partner's supplier role")
def supplier_role(request: Request, bp: str) -> Response:
    def read() -> tuple[int, Any, dict[str, str]]:
        def build(tx: Tx) -> dict[str, Any]:
            kind, _, row = _bp_row(request, tx, bp)
            if kind != "supplier":
                raise SandboxRefusal(404, f"Supplier {bp} does not exist")
            return supplier_entity(request, bp, row["A2_MSBLQL"] == "1", kind)

        entity = sandbox_of(request).db.read(build)
        return 200, {"d": entity}, {"ETag": entity["__metadata"]["etag"]}

    return answer(
        request, perform(request, face=FACE, operation="supplier.read", error=error, read=read)
    )


@router.patch(f"/{BP_SRV}/A_Supplier('{{bp}}')", status_code=204, summary="Change a supplier")
def patch_supplier_role(request: Request, bp: str, body: JsonBody) -> Response:
    checked(body, "A_Supplier", creating=False)
    if not body or set(body) - SUPPLIER_PATCH:
        stored = ", ".join(sorted(SUPPLIER_PATCH))
        raise SandboxRefusal(400, f"the sandbox stores only these of A_Supplier: {stored}")
    if len({bool(v) for v in body.values()}) != 1:
        raise SandboxRefusal(400, "the sandbox keeps one block: set both blocks alike")

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        kind, _, row = _bp_row(request, tx, bp)
        if kind != "supplier":
            raise SandboxRefusal(404, f"Supplier {bp} does not exist")
        current = supplier_entity(request, bp, row["A2_MSBLQL"] == "1", kind)
        _if_match(request, current)
        blocked = bool(next(iter(body.values())))
        tx.update("SA2010", int(row[RECNO]), {"A2_MSBLQL": "1" if blocked else "2"})
        return 204, None, {"previous": {k: current[k] for k in body}}

    return perform(
        request, face=FACE, operation="supplier.change", error=error, apply=apply, body=body
    )


def _bp_row(request: Request, tx: Tx, bp: str) -> tuple[str, str, dict[str, Any]]:
    db = sandbox_of(request).db
    for kind in ("supplier", "customer"):
        native = db.native_of(kind, "sap", bp)
        if native is not None:
            return kind, native, tx.party(native, live=False)
    raise SandboxRefusal(404, f"Business partner {bp} does not exist")


@router.get("/{service}/", summary="Service document (where clients fetch the CSRF token)")
def service_document(request: Request, service: str) -> Response:
    return answer(
        request,
        perform(
            request,
            face=FACE,
            operation="service.document",
            error=error,
            read=lambda: (200, {"d": {"EntitySets": []}}, {}),
        ),
    )


@router.get(f"/{BP_SRV}/A_BusinessPartner", summary="Business partners (server-paged)")
def business_partners(
    request: Request,
    top: Annotated[int | None, Query(alias="$top", ge=0)] = None,
    skip: Annotated[int, Query(alias="$skip", ge=0)] = 0,
    skiptoken: Annotated[str | None, Query(alias="$skiptoken")] = None,
    inlinecount: Annotated[str | None, Query(alias="$inlinecount")] = None,
    filter_: Annotated[str | None, Query(alias="$filter")] = None,
    expand: Annotated[str | None, Query(alias="$expand")] = None,
) -> Response:
    wanted = filters(filter_)
    roles = [k for k in ("Supplier", "Customer") if wanted.get(k) == "!="]
    if len(roles) != 1 or set(wanted) != set(roles):
        raise SandboxRefusal(400, "the sandbox lists with $filter Supplier ne '' or Customer ne ''")
    kind, prefix = ("supplier", "SA2") if roles == ["Supplier"] else ("customer", "SA1")
    db = sandbox_of(request).db
    sent, now, left = page_window(top, skiptoken)
    rows = db.rows(f"{prefix}010", offset=skip + sent, limit=now + 1)
    results = db.read(lambda tx: [bp_entity(request, tx, kind, r, bool(expand)) for r in rows])
    count = None
    if inlinecount == "allpages":
        count = max(0, len(db.rows(f"{prefix}010", limit=10**9)) - skip)
        count = count if top is None else min(count, top)
    more = len(rows) > now and left > now
    body = collection(request, results[:now], sent, more, count)
    return answer(
        request,
        perform(
            request,
            face=FACE,
            operation=f"{kind}.list",
            error=error,
            read=lambda: (200, {"d": body}, {}),
        ),
    )


@router.get(f"/{BP_SRV}/A_BusinessPartnerTaxNumber", summary="Tax numbers (by BPTaxNumber)")
def tax_numbers(
    request: Request,
    filter_: Annotated[str | None, Query(alias="$filter")] = None,
    top: Annotated[int | None, Query(alias="$top", ge=0)] = None,
) -> Response:
    wanted = filters(filter_)
    if set(wanted) != {"BPTaxNumber"} or wanted["BPTaxNumber"] == "!=":
        raise SandboxRefusal(400, "the sandbox lists tax numbers with $filter BPTaxNumber eq '...'")
    db = sandbox_of(request).db
    number = digits(wanted["BPTaxNumber"])

    def build(tx: Tx) -> list[dict[str, Any]]:
        found = []
        for prefix, kind in (("SA2", "supplier"), ("SA1", "customer")):
            p = prefix[1:]
            for row in db.rows(f"{prefix}010", live_only=False, limit=10**9):
                if digits(row[f"{p}_CGC"]) == number:
                    native = f"{prefix}:{row[f'{p}_FILIAL']}:{row[f'{p}_COD']}:{row[f'{p}_LOJA']}"
                    bp = tx.ids_of(kind, native)[0]
                    tax_type = "BR1" if len(number) == 14 else "BR2"
                    found.append(
                        {"BusinessPartner": bp, "BPTaxType": tax_type, "BPTaxNumber": number}
                    )
        return found[:top] if top is not None else found[:SERVER_PAGE]

    results = db.read(build)
    return answer(
        request,
        perform(
            request,
            face=FACE,
            operation="supplier.list",
            error=error,
            read=lambda: (200, {"d": {"results": results}}, {}),
        ),
    )


@router.get(f"/{BP_SRV}/A_BusinessPartner('{{bp}}')", summary="One business partner")
def business_partner(request: Request, bp: str) -> Response:
    def read() -> tuple[int, Any, dict[str, str]]:
        def build(tx: Tx) -> dict[str, Any]:
            kind, _, row = _bp_row(request, tx, bp)
            return bp_entity(request, tx, kind, row, True)

        entity = sandbox_of(request).db.read(build)
        return 200, {"d": entity}, {"ETag": entity["__metadata"]["etag"]}

    return answer(
        request, perform(request, face=FACE, operation="supplier.read", error=error, read=read)
    )


def _bp_fields(body: dict[str, Any]) -> dict[str, str]:
    """SA2 fields from a deep-insert body of A_BusinessPartner."""
    person = body.get("BusinessPartnerCategory") == "1"
    name = (
        body.get("OrganizationBPName1")
        or body.get("BusinessPartnerFullName")
        or " ".join(x for x in (body.get("FirstName"), body.get("LastName")) if x)
    )
    if not name:
        raise SandboxRefusal(400, "OrganizationBPName1 (or FirstName/LastName) is required")
    address = (body.get("to_BusinessPartnerAddress") or {}).get("results") or [{}]
    taxes = (body.get("to_BusinessPartnerTax") or {}).get("results") or []
    tax = next((t.get("BPTaxNumber", "") for t in taxes), "")
    a = address[0]
    fields = {
        "A2_NOME": name,
        "A2_NREDUZ": body.get("SearchTerm1") or str(name)[:20],
        "A2_CGC": tax,
        "A2_TIPO": "F" if person else "J",
        "A2_END": a.get("StreetName"),
        "A2_MUN": a.get("CityName"),
        "A2_EST": a.get("Region"),
        "A2_CEP": a.get("PostalCode"),
    }
    return {k: str(v) for k, v in fields.items() if v}


@router.post(f"/{BP_SRV}/A_BusinessPartner", status_code=201, summary="Create (deep insert)")
def create_business_partner(request: Request, body: JsonBody) -> Response:
    checked(body, "A_BusinessPartner", creating=True)
    roles = (body.get("to_BusinessPartnerRole") or {}).get("results") or []
    if not any(r.get("BusinessPartnerRole") in SUPPLIER_ROLES for r in roles):
        raise SandboxRefusal(400, "the sandbox creates suppliers only (role FLVN00 or FLVN01)")
    fields = _bp_fields(body)

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        native = tx.create_party("SA2", fields)
        return 201, {"d": bp_entity(request, tx, "supplier", tx.party(native), True)}, {}

    return perform(
        request, face=FACE, operation="supplier.create_record", error=error, apply=apply, body=body
    )


def _if_match(request: Request, current: dict[str, Any]) -> None:
    given = request.headers.get("if-match")
    if not given:
        raise SandboxRefusal(428, "If-Match with the entity's ETag is required")
    if given != "*" and given != current["__metadata"]["etag"]:
        raise SandboxRefusal(412, "the entity changed: its ETag does not match If-Match")


BP_PATCH = {"BusinessPartnerIsBlocked", "IsMarkedForArchiving"}


@router.patch(f"/{BP_SRV}/A_BusinessPartner('{{bp}}')", status_code=204, summary="Change")
def patch_business_partner(request: Request, bp: str, body: JsonBody) -> Response:
    checked(body, "A_BusinessPartner", creating=False)
    if not body or set(body) - BP_PATCH:
        stored = ", ".join(sorted(BP_PATCH))
        raise SandboxRefusal(400, f"the sandbox stores only these of A_BusinessPartner: {stored}")

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        kind, native, row = _bp_row(request, tx, bp)
        current = bp_entity(request, tx, kind, row, False)
        _if_match(request, current)
        table, p = ("SA2010", "A2") if kind == "supplier" else ("SA1010", "A1")
        previous = {k: current[k] for k in body}
        if "BusinessPartnerIsBlocked" in body:
            tx.update(
                table,
                int(row[RECNO]),
                {f"{p}_MSBLQL": "1" if body["BusinessPartnerIsBlocked"] else "2"},
            )
        if body.get("IsMarkedForArchiving"):
            tx.soft_delete(table, int(row[RECNO]))
        elif body.get("IsMarkedForArchiving") is False and row[DELETED] == "*":
            tx.update(table, int(row[RECNO]), {DELETED: ""})
        return 204, None, {"previous": previous}

    return perform(
        request, face=FACE, operation="supplier.change", error=error, apply=apply, body=body
    )


BANK = f"/{BP_SRV}/A_BusinessPartnerBank(BusinessPartner='{{bp}}',BankIdentification='0001')"


def _bank(request: Request, tx: Tx, bp: str) -> tuple[dict[str, Any], dict[str, Any]]:
    kind, _, row = _bp_row(request, tx, bp)
    if kind != "supplier":
        raise SandboxRefusal(404, f"no bank details of business partner {bp}")
    entity = {
        "BusinessPartner": bp,
        "BankIdentification": "0001",
        "BankCountryKey": "BR",
        "IBAN": row["A2_XIBAN"],
        "BankAccountHolderName": row["A2_XTITULA"],
    }
    key = f"BusinessPartner='{bp}',BankIdentification='0001'"
    _meta(
        request, f"{BP_SRV}/A_BusinessPartnerBank", key, f"{BP_SRV}.A_BusinessPartnerBank", entity
    )
    return entity, row


@router.get(BANK, summary="A supplier's bank details")
def bank(request: Request, bp: str) -> Response:
    def read() -> tuple[int, Any, dict[str, str]]:
        entity, _ = sandbox_of(request).db.read(lambda tx: _bank(request, tx, bp))
        return 200, {"d": entity}, {"ETag": entity["__metadata"]["etag"]}

    return answer(
        request, perform(request, face=FACE, operation="supplier.read_bank", error=error, read=read)
    )


@router.patch(BANK, status_code=204, summary="Change a supplier's bank details")
def patch_bank(request: Request, bp: str, body: JsonBody) -> Response:
    checked(body, "A_BusinessPartnerBank", creating=False)
    allowed = {"IBAN", "BankAccountHolderName"}
    if not body or set(body) - allowed:
        raise SandboxRefusal(400, "the sandbox stores only IBAN, BankAccountHolderName of a bank")

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        entity, row = _bank(request, tx, bp)
        _if_match(request, entity)
        columns = {"IBAN": "A2_XIBAN", "BankAccountHolderName": "A2_XTITULA"}
        tx.update("SA2010", int(row[RECNO]), {columns[k]: str(v or "") for k, v in body.items()})
        return 204, None, {"previous": {k: entity[k] for k in body}}

    return perform(
        request, face=FACE, operation="supplier.change_bank", error=error, apply=apply, body=body
    )
