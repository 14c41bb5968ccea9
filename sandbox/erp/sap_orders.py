"""The SAP face, continued: purchase orders, URL attachments, approval routing, writes by key.

Purchase orders follow `API_PURCHASEORDER_PROCESS_SRV`'s published metadata: header, items
(`A_PurchaseOrderItem`, with `IsCompletelyDelivered`) and schedule lines
(`A_PurchaseOrderScheduleLine`, with `ScheduleLineDeliveryDate`). A release (approval) is not a
field of the standard API (`PurchasingProcessingStatus` is not updatable): it is done by SAP's
BAPI_PO_RELEASE / BAPI_PO_RESET_RELEASE, which the integration's custom `ZCANON_APPROVAL_SRV`
exposes here as the function imports `ReleasePurchaseOrder` and `ResetPurchaseOrderRelease`.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import Response

from sandbox.erp.backend import RECNO, SandboxRefusal, Tx, po_summary
from sandbox.erp.common import journal_lookup, perform, sandbox_of
from sandbox.erp.sap import (
    FACE,
    PO_SRV,
    PO_STATUS,
    JsonBody,
    _bp_row,
    _if_match,
    _meta,
    answer,
    checked,
    collection,
    error,
    filters,
    from_odata_date,
    odata_date,
    page_window,
    router,
)

ATTACH_SRV = "API_CV_ATTACHMENT_SRV"
APPROVAL_SRV, IDEM_SRV = "ZCANON_APPROVAL_SRV", "ZCANON_IDEMPOTENCY_SRV"
CURRENCIES = {"1": "BRL", "2": "USD", "3": "UFIR", "4": "EUR", "5": "JPY"}


# -- purchase orders ------------------------------------------------------------------------------
# Where the fields live is the published EDMX's (see gateway.erp.sap_schema): the header has no
# amount, delivery date or completion; each SC7 row is an item (`C7_ITEM` 0001 -> 00010) with
# one schedule line (0001) holding its delivery date `C7_DATPRF`.
ITEM_SET, LINE_SET = "A_PurchaseOrderItem", "A_PurchaseOrderScheduleLine"
ITEM_KEY = "PurchaseOrder='{number}',PurchaseOrderItem='{item}'"
LINE_KEY = "PurchasingDocument='{number}',PurchasingDocumentItem='{item}',ScheduleLine='{line}'"


def _item_number(row: dict[str, Any]) -> str:
    return f"{int(row['C7_ITEM']) * 10:05d}"


def _decimal(value: Any, places: int = 3) -> str:
    return f"{float(value or 0):.{places}f}"


def schedule_line(request: Request, number: str, row: dict[str, Any]) -> dict[str, Any]:
    item = _item_number(row)
    entity: dict[str, Any] = {
        "PurchasingDocument": number,
        "PurchasingDocumentItem": item,
        "ScheduleLine": "0001",
        "DelivDateCategory": "1",
        "ScheduleLineDeliveryDate": odata_date(row["C7_DATPRF"]),
        "ScheduleLineOrderQuantity": _decimal(row["C7_QUANT"]),
    }
    key = LINE_KEY.format(number=number, item=item, line="0001")
    _meta(request, f"{PO_SRV}/{LINE_SET}", key, f"{PO_SRV}.{LINE_SET}", entity)
    return entity


def po_item(
    request: Request, number: str, currency: str, row: dict[str, Any], expand: bool
) -> dict[str, Any]:
    item = _item_number(row)
    entity: dict[str, Any] = {
        "PurchaseOrder": number,
        "PurchaseOrderItem": item,
        "Plant": f"BR{row['C7_FILIAL']}",
        "Material": row["C7_PRODUTO"],
        "OrderQuantity": _decimal(row["C7_QUANT"]),
        "PurchaseOrderQuantityUnit": "EA",
        "DocumentCurrency": currency,
        "NetPriceAmount": _decimal(row["C7_PRECO"], 2),
        "NetPriceQuantity": "1",
        "IsCompletelyDelivered": row["C7_ENCER"] == "E",
    }
    key = ITEM_KEY.format(number=number, item=item)
    _meta(request, f"{PO_SRV}/{ITEM_SET}", key, f"{PO_SRV}.{ITEM_SET}", entity)
    if expand:
        entity["to_ScheduleLine"] = {"results": [schedule_line(request, number, row)]}
    return entity


def po_entity(request: Request, tx: Tx, native: str, expand: str | None) -> dict[str, Any]:
    """A purchase order; `expand` names `to_PurchaseOrderItem` (optionally `/to_ScheduleLine`)."""
    items = tx.po_items(native)
    head = po_summary(items)
    supplier = tx.ids_of("supplier", f"SA2::{head['C7_FORNECE']}:{head['C7_LOJA']}")[0]
    number = tx.ids_of("purchase_order", native)[0]
    currency = CURRENCIES.get(head["C7_MOEDA"], "BRL")
    status = PO_STATUS.get(head["C7_CONAPRO"], "02")
    entity: dict[str, Any] = {
        "PurchaseOrder": number,
        "CompanyCode": f"BR{head['C7_FILIAL']}",
        "PurchaseOrderType": "NB",
        "Supplier": supplier,
        "PurchasingOrganization": "1000",
        "PurchasingGroup": "001",
        "DocumentCurrency": currency,
        "PurchaseOrderDate": odata_date(head["C7_EMISSAO"]),
        "PurchasingProcessingStatus": status,
        "ReleaseIsNotCompleted": status != "05",
    }
    _meta(request, f"{PO_SRV}/A_PurchaseOrder", f"'{number}'", f"{PO_SRV}.A_PurchaseOrder", entity)
    wanted = _expansions(expand)
    if "to_PurchaseOrderItem" in wanted:
        lines = "to_PurchaseOrderItem/to_ScheduleLine" in wanted
        entity["to_PurchaseOrderItem"] = {
            "results": [po_item(request, number, currency, i, lines) for i in items]
        }
    return entity


def _expansions(expand: str | None) -> set[str]:
    known = {"to_PurchaseOrderItem", "to_PurchaseOrderItem/to_ScheduleLine"}
    wanted = {e.strip() for e in (expand or "").split(",") if e.strip()}
    if wanted - known:
        raise SandboxRefusal(400, f"$expand: the sandbox expands {', '.join(sorted(known))}")
    if "to_PurchaseOrderItem/to_ScheduleLine" in wanted:
        wanted.add("to_PurchaseOrderItem")
    return wanted


def _po_native(request: Request, number: str) -> str:
    native = sandbox_of(request).db.native_of("purchase_order", "sap", number)
    if native is None:
        raise SandboxRefusal(404, f"Purchase order {number} does not exist")
    return native


@router.get(f"/{PO_SRV}/A_PurchaseOrder", summary="Purchase orders (server-paged)")
def purchase_orders(
    request: Request,
    top: Annotated[int | None, Query(alias="$top", ge=0)] = None,
    skip: Annotated[int, Query(alias="$skip", ge=0)] = 0,
    skiptoken: Annotated[str | None, Query(alias="$skiptoken")] = None,
    inlinecount: Annotated[str | None, Query(alias="$inlinecount")] = None,
    filter_: Annotated[str | None, Query(alias="$filter")] = None,
    expand: Annotated[str | None, Query(alias="$expand")] = None,
) -> Response:
    db = sandbox_of(request).db
    wanted, where = filters(filter_), {}
    if "Supplier" in wanted:
        native = db.native_of("supplier", "sap", wanted.pop("Supplier"))
        _, _, code, loja = (native or "SA2:::").split(":")
        where = {"C7_FORNECE": code, "C7_LOJA": loja}
    if wanted:
        raise SandboxRefusal(400, "filter on Supplier eq '...' only")
    _expansions(expand)
    sent, now, left = page_window(top, skiptoken)
    natives = db.purchase_orders(where, offset=skip + sent, limit=now + 1)
    results = db.read(lambda tx: [po_entity(request, tx, n, expand) for n in natives[:now]])
    count = None
    if inlinecount == "allpages":
        count = max(0, len(db.purchase_orders(where, limit=10**9)) - skip)
        count = count if top is None else min(count, top)
    body = collection(request, results, sent, len(natives) > now and left > now, count)
    return answer(
        request,
        perform(
            request,
            face=FACE,
            operation="purchase_order.list",
            error=error,
            read=lambda: (200, {"d": body}, {}),
        ),
    )


@router.get(f"/{PO_SRV}/A_PurchaseOrder('{{number}}')", summary="One purchase order")
def purchase_order(
    request: Request,
    number: str,
    expand: Annotated[str | None, Query(alias="$expand")] = None,
) -> Response:
    def read() -> tuple[int, Any, dict[str, str]]:
        native = _po_native(request, number)
        entity = sandbox_of(request).db.read(lambda tx: po_entity(request, tx, native, expand))
        return 200, {"d": entity}, {"ETag": entity["__metadata"]["etag"]}

    return answer(
        request,
        perform(request, face=FACE, operation="purchase_order.read", error=error, read=read),
    )


@router.patch(f"/{PO_SRV}/A_PurchaseOrder('{{number}}')", status_code=204, summary="Change")
def patch_purchase_order(request: Request, number: str, body: JsonBody) -> Response:
    checked(body, "A_PurchaseOrder", creating=False)
    raise SandboxRefusal(400, "the sandbox stores no updatable header field of A_PurchaseOrder")


def _item_row(tx: Tx, native: str, item: str) -> dict[str, Any]:
    for row in tx.po_items(native):
        if _item_number(row) == item:
            return row
    raise SandboxRefusal(404, f"Purchase order item {item} does not exist")


def _line_of(request: Request, tx: Tx, number: str, item: str, line: str) -> dict[str, Any]:
    row = _item_row(tx, _po_native(request, number), item)
    if line != "0001":
        raise SandboxRefusal(404, f"Schedule line {line} of item {item} does not exist")
    return row


ITEM_PATH = f"/{PO_SRV}/{ITEM_SET}(PurchaseOrder='{{number}}',PurchaseOrderItem='{{item}}')"
LINE_PATH = (
    f"/{PO_SRV}/{LINE_SET}(PurchasingDocument='{{number}}',PurchasingDocumentItem='{{item}}',"
    "ScheduleLine='{line}')"
)


@router.get(ITEM_PATH, summary="One purchase order item")
def purchase_order_item(request: Request, number: str, item: str) -> Response:
    def read() -> tuple[int, Any, dict[str, str]]:
        def build(tx: Tx) -> dict[str, Any]:
            head = po_entity(request, tx, _po_native(request, number), None)
            row = _item_row(tx, _po_native(request, number), item)
            return po_item(request, number, head["DocumentCurrency"], row, False)

        entity = sandbox_of(request).db.read(build)
        return 200, {"d": entity}, {"ETag": entity["__metadata"]["etag"]}

    return answer(
        request,
        perform(request, face=FACE, operation="purchase_order.read", error=error, read=read),
    )


@router.patch(ITEM_PATH, status_code=204, summary="Change a purchase order item")
def patch_purchase_order_item(request: Request, number: str, item: str, body: JsonBody) -> Response:
    checked(body, ITEM_SET, creating=False)
    if not body or set(body) != {"IsCompletelyDelivered"}:
        raise SandboxRefusal(400, f"the sandbox stores only IsCompletelyDelivered of {ITEM_SET}")
    if not isinstance(body["IsCompletelyDelivered"], bool):
        raise SandboxRefusal(400, "IsCompletelyDelivered: a boolean (Edm.Boolean)")

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        native = _po_native(request, number)
        head = po_entity(request, tx, native, None)
        row = _item_row(tx, native, item)
        current = po_item(request, number, head["DocumentCurrency"], row, False)
        _if_match(request, current)
        encer = "E" if body["IsCompletelyDelivered"] else ""
        tx.update("SC7010", int(row[RECNO]), {"C7_ENCER": encer})
        return 204, None, {"previous": {k: current[k] for k in body}}

    return perform(
        request, face=FACE, operation="purchase_order.change", error=error, apply=apply, body=body
    )


@router.get(LINE_PATH, summary="One schedule line of a purchase order item")
def purchase_order_schedule_line(request: Request, number: str, item: str, line: str) -> Response:
    def read() -> tuple[int, Any, dict[str, str]]:
        entity = sandbox_of(request).db.read(
            lambda tx: schedule_line(request, number, _line_of(request, tx, number, item, line))
        )
        return 200, {"d": entity}, {"ETag": entity["__metadata"]["etag"]}

    return answer(
        request,
        perform(request, face=FACE, operation="purchase_order.read", error=error, read=read),
    )


@router.patch(LINE_PATH, status_code=204, summary="Change a schedule line")
def patch_purchase_order_schedule_line(
    request: Request, number: str, item: str, line: str, body: JsonBody
) -> Response:
    checked(body, LINE_SET, creating=False)
    if not body or set(body) != {"ScheduleLineDeliveryDate"}:
        raise SandboxRefusal(400, f"the sandbox stores only ScheduleLineDeliveryDate of {LINE_SET}")
    wanted = from_odata_date(str(body["ScheduleLineDeliveryDate"]))

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        row = _line_of(request, tx, number, item, line)
        current = schedule_line(request, number, row)
        _if_match(request, current)
        tx.update("SC7010", int(row[RECNO]), {"C7_DATPRF": wanted})
        return 204, None, {"previous": {k: current[k] for k in body}}

    return perform(
        request, face=FACE, operation="purchase_order.change", error=error, apply=apply, body=body
    )


# -- attachments, approval routing, writes by key -----------------------------------------------
def _arg(value: str | None, name: str) -> str:
    if not value or not (value.startswith("'") and value.endswith("'")):
        raise SandboxRefusal(400, f"{name} must be a quoted string ('...')")
    return value[1:-1]


@router.post(f"/{ATTACH_SRV}/CreateUrlAsAttachment", summary="Attach a URL to an object")
def create_url_attachment(
    request: Request,
    object_type: Annotated[str | None, Query(alias="BusinessObjectTypeName")] = None,
    object_key: Annotated[str | None, Query(alias="LinkedSAPObjectKey")] = None,
    url: Annotated[str | None, Query(alias="Url")] = None,
    description: Annotated[str | None, Query(alias="UrlDescription")] = None,
) -> Response:
    if _arg(object_type, "BusinessObjectTypeName") != "BUS1006":
        raise SandboxRefusal(400, "only business partners (BUS1006) take attachments here")
    bp, link = _arg(object_key, "LinkedSAPObjectKey"), _arg(url, "Url")
    text = _arg(description, "UrlDescription") if description else link

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        _, native, _ = _bp_row(request, tx, bp)
        codobj = tx.attach_document(native, link, text)
        return (
            200,
            {
                "d": {
                    "DocumentInfoRecordDocType": "SAT",
                    "DocumentInfoRecordDocNumber": codobj,
                    "DocumentInfoRecordDocVersion": "00",
                    "DocumentInfoRecordDocPart": "000",
                    "ArchiveDocumentID": codobj,
                    "LinkedSAPObjectKey": bp,
                    "BusinessObjectTypeName": "BUS1006",
                    "Url": link,
                    "FileName": text,
                }
            },
            {},
        )

    return perform(
        request, face=FACE, operation="supplier.attach_document", error=error, apply=apply
    )


@router.delete(f"/{ATTACH_SRV}/AttachmentContentSet({{keys}})", status_code=204)
def delete_attachment(request: Request, keys: str) -> Response:
    fields = dict(part.split("=", 1) for part in keys.split(",") if "=" in part)
    codobj = _arg(fields.get("ArchiveDocumentID"), "ArchiveDocumentID")

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        tx.detach_document(codobj)
        return 204, None, {}

    return perform(
        request, face=FACE, operation="supplier.detach_document", error=error, apply=apply
    )


@router.post(f"/{APPROVAL_SRV}/ApprovalRequests", status_code=201, summary="Route for approval")
def start_routing(request: Request, body: JsonBody) -> Response:
    if body.get("BusinessObjectType") != "BUS1006" or not body.get("ObjectKey"):
        raise SandboxRefusal(400, "BusinessObjectType 'BUS1006' and ObjectKey are required")
    bp = str(body["ObjectKey"])

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        _, native, _ = _bp_row(request, tx, bp)
        recno = tx.start_routing(native, "FO", date.today().strftime("%Y%m%d"))
        return (
            201,
            {
                "d": {
                    "RequestId": f"{recno:010d}",
                    "BusinessObjectType": "BUS1006",
                    "ObjectKey": bp,
                    "Status": "PENDING",
                }
            },
            {},
        )

    return perform(
        request,
        face=FACE,
        operation="supplier.start_approval_routing",
        error=error,
        apply=apply,
        body=body,
    )


@router.delete(f"/{APPROVAL_SRV}/ApprovalRequests('{{request_id}}')", status_code=204)
def cancel_routing(request: Request, request_id: str) -> Response:
    if not request_id.isdigit():
        raise SandboxRefusal(404, f"approval request {request_id} does not exist")

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        tx.cancel_routing(int(request_id))
        return 204, None, {}

    return perform(
        request, face=FACE, operation="supplier.cancel_approval_routing", error=error, apply=apply
    )


def _release(request: Request, number: str | None, released: bool) -> Response:
    """BAPI_PO_RELEASE (`released`) or BAPI_PO_RESET_RELEASE, as the custom service calls them."""
    po = _arg(number, "PurchaseOrder")
    operation = "purchase_order.approve" if released else "purchase_order.revoke_approval"

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        native = _po_native(request, po)
        before = po_entity(request, tx, native, None)["PurchasingProcessingStatus"]
        if (before == "05") is released:
            state = "already released" if released else "not released"
            raise SandboxRefusal(400, f"Purchase order {po} is {state}")
        tx.update_po(native, {"C7_CONAPRO": "L" if released else "B"})
        after = po_entity(request, tx, native, None)["PurchasingProcessingStatus"]
        answer_ = {"PurchaseOrder": po, "PurchasingProcessingStatus": after}
        return 200, {"d": answer_}, {"previous": {"PurchasingProcessingStatus": before}}

    return perform(request, face=FACE, operation=operation, error=error, apply=apply)


@router.post(f"/{APPROVAL_SRV}/ReleasePurchaseOrder", summary="Release (approve) a PO")
def release_purchase_order(
    request: Request, number: Annotated[str | None, Query(alias="PurchaseOrder")] = None
) -> Response:
    return _release(request, number, True)


@router.post(f"/{APPROVAL_SRV}/ResetPurchaseOrderRelease", summary="Reset a PO's release")
def reset_purchase_order_release(
    request: Request, number: Annotated[str | None, Query(alias="PurchaseOrder")] = None
) -> Response:
    return _release(request, number, False)


@router.get(f"/{IDEM_SRV}/Operations('{{key}}')", summary="The write made with this key")
def operation(request: Request, key: str) -> Response:
    def read() -> tuple[int, Any, dict[str, str]]:
        found = journal_lookup(request, key)
        return (
            200,
            {
                "d": {
                    "IdempotencyKey": key,
                    "Operation": found["operation"],
                    "HttpStatus": found["status"],
                    "Response": _dump(found["response"]),
                    "Previous": _dump(found["previous"]),
                }
            },
            {},
        )

    return perform(request, face=FACE, operation="operation.lookup", error=error, read=read)


def _dump(value: Any) -> str:
    return json.dumps(value)
