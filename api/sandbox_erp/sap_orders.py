"""The SAP face, continued: purchase orders, URL attachments, approval routing, writes by key."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import Response

from api.sandbox_erp.common import journal_lookup, perform, sandbox_of
from api.sandbox_erp.sap import (
    FACE,
    PO_SRV,
    PO_STATUS,
    JsonBody,
    _bp_row,
    _if_match,
    _meta,
    answer,
    error,
    filters,
    from_odata_date,
    odata_date,
    router,
)
from gateway.erp.sandbox import SandboxRefusal, Tx, po_summary

ATTACH_SRV = "API_CV_ATTACHMENT_SRV"
APPROVAL_SRV, IDEM_SRV = "ZCANON_APPROVAL_SRV", "ZCANON_IDEMPOTENCY_SRV"
CURRENCIES = {"1": "BRL", "2": "USD", "3": "UFIR", "4": "EUR", "5": "JPY"}


# -- purchase orders ------------------------------------------------------------------------------
def po_entity(request: Request, tx: Tx, native: str, expand: bool) -> dict[str, Any]:
    items = tx.po_items(native)
    head = po_summary(items)
    supplier = tx.ids_of("supplier", f"SA2::{head['C7_FORNECE']}:{head['C7_LOJA']}")[0]
    number = tx.ids_of("purchase_order", native)[0]
    entity: dict[str, Any] = {
        "PurchaseOrder": number,
        "CompanyCode": f"BR{head['C7_FILIAL']}",
        "PurchaseOrderType": "NB",
        "Supplier": supplier,
        "PurchasingOrganization": "1000",
        "PurchasingGroup": "001",
        "DocumentCurrency": CURRENCIES.get(head["C7_MOEDA"], "BRL"),
        "PurchaseOrderDate": odata_date(head["C7_EMISSAO"]),
        "PurchasingProcessingStatus": PO_STATUS.get(head["C7_CONAPRO"], "02"),
        "IsCompletelyDelivered": head["C7_ENCER"] == "E",
        "ScheduleLineDeliveryDate": odata_date(head["C7_DATPRF"]),
        "PurchaseOrderNetAmount": f"{head['C7_TOTAL']:.2f}",
    }
    _meta(request, f"{PO_SRV}/A_PurchaseOrder", f"'{number}'", f"{PO_SRV}.A_PurchaseOrder", entity)
    if expand:
        entity["to_PurchaseOrderItem"] = {
            "results": [
                {
                    "PurchaseOrder": number,
                    "PurchaseOrderItem": f"{int(i['C7_ITEM']) * 10:05d}",
                    "Material": i["C7_PRODUTO"],
                    "OrderQuantity": i["C7_QUANT"],
                    "NetPriceAmount": i["C7_PRECO"],
                    "NetAmount": i["C7_TOTAL"],
                    "Plant": f"BR{i['C7_FILIAL']}",
                }
                for i in items
            ]
        }
    return entity


def _po_native(request: Request, number: str) -> str:
    native = sandbox_of(request).db.native_of("purchase_order", "sap", number)
    if native is None:
        raise SandboxRefusal(404, f"Purchase order {number} does not exist")
    return native


@router.get(f"/{PO_SRV}/A_PurchaseOrder", summary="Purchase orders, by $top/$skip")
def purchase_orders(
    request: Request,
    top: Annotated[int, Query(alias="$top", ge=1, le=5000)] = 100,
    skip: Annotated[int, Query(alias="$skip", ge=0)] = 0,
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
    natives = db.purchase_orders(where, offset=skip, limit=top + 1)
    results = db.read(lambda tx: [po_entity(request, tx, n, bool(expand)) for n in natives[:top]])
    body: dict[str, Any] = {"results": results}
    if len(natives) > top:
        query = dict(request.query_params) | {"$skip": str(skip + top), "$top": str(top)}
        body["__next"] = str(request.url.replace_query_params(**query))
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
def purchase_order(request: Request, number: str) -> Response:
    def read() -> tuple[int, Any, dict[str, str]]:
        native = _po_native(request, number)
        entity = sandbox_of(request).db.read(lambda tx: po_entity(request, tx, native, True))
        return 200, {"d": entity}, {"ETag": entity["__metadata"]["etag"]}

    return answer(
        request,
        perform(request, face=FACE, operation="purchase_order.read", error=error, read=read),
    )


PO_PATCH = {"PurchasingProcessingStatus", "IsCompletelyDelivered", "ScheduleLineDeliveryDate"}


def _po_fields(body: dict[str, Any]) -> dict[str, str]:
    fields: dict[str, str] = {}
    if "PurchasingProcessingStatus" in body:
        status = {v: k for k, v in PO_STATUS.items()}.get(str(body["PurchasingProcessingStatus"]))
        if status is None:
            raise SandboxRefusal(400, "PurchasingProcessingStatus: 02, 05 or 08")
        fields["C7_CONAPRO"] = status
    if "IsCompletelyDelivered" in body:
        fields["C7_ENCER"] = "E" if body["IsCompletelyDelivered"] else ""
    if "ScheduleLineDeliveryDate" in body:
        fields["C7_DATPRF"] = from_odata_date(str(body["ScheduleLineDeliveryDate"]))
    return fields


@router.patch(f"/{PO_SRV}/A_PurchaseOrder('{{number}}')", status_code=204, summary="Change")
def patch_purchase_order(request: Request, number: str, body: JsonBody) -> Response:
    if not body or set(body) - PO_PATCH:
        raise SandboxRefusal(400, f"patchable here: {', '.join(sorted(PO_PATCH))}")
    fields = _po_fields(body)

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        native = _po_native(request, number)
        current = po_entity(request, tx, native, False)
        _if_match(request, current)
        tx.update_po(native, fields)
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
