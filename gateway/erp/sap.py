"""`SapConnector`: SAP S/4HANA over OData v2 (`/sap/opu/odata/sap`).

Suppliers are business partners (`BusinessPartner:{BusinessPartner}`, `API_BUSINESS_PARTNER`:
`A_BusinessPartner` with addresses, tax numbers and the supplier role, `A_BusinessPartnerBank`);
purchase orders `PurchaseOrder:{PurchaseOrder}` (`API_PURCHASEORDER_PROCESS_SRV`). Documents are
URL attachments (`API_CV_ATTACHMENT_SRV`); approval routing, the release of purchase orders and the
look-up of writes by key are the integration's services (`ZCANON_APPROVAL_SRV`,
`ZCANON_IDEMPOTENCY_SRV`); see docs/ERP.md for what a stock system lacks without them.

Fields are placed where SAP's published metadata puts them (`gateway.erp.sap_schema`): a purchase
order's value is the sum of its items' `OrderQuantity * NetPriceAmount / NetPriceQuantity`, its
delivery date the earliest `ScheduleLineDeliveryDate` of its schedule lines, completion
`A_PurchaseOrderItem.IsCompletelyDelivered` of every item; `PurchasingProcessingStatus` is read
(`05` = released) but never PATCHed. Every PATCH body is checked against that metadata first.

Collections are read in client pages of `$top` rows at `$skip` offsets; within one, the `__next`
links of server-imposed pages are followed. `$top` is a hard cap on a SAP server, so a page that
returns fewer rows than asked ends the extract only once `__count` (`$inlinecount=allpages`)
confirms nothing is left.

Writes first fetch a CSRF token (`x-csrf-token: Fetch`, kept with the session cookie, fetched
again once when the server says `Required`); a PATCH sends the ETag just read as `If-Match`,
and a 412 (someone changed the record meanwhile) is an `ErpConflict`, never retried.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any, Protocol

import httpx

from gateway.erp import sap_schema
from gateway.erp.base import ErpOperation, ErpRecord, ErpResult
from gateway.erp.http import (
    HttpErp,
    digits,
    record,
    result,
)
from gateway.erp.operations import OperationRunner, runs, undone_data
from gateway.erp.registry import ErpSettings, access, register
from gateway.erp.sources import Source, declared_source, shipped_profile, source_fields
from gateway.errors import ErpLookupMissing, ErpOperationFailed, ErpUnavailable, ErpUndecided
from resolver.profiles import Profile

ROOT = "/sap/opu/odata/sap"
BP = f"{ROOT}/API_BUSINESS_PARTNER"
PO = f"{ROOT}/API_PURCHASEORDER_PROCESS_SRV"
ATTACH = f"{ROOT}/API_CV_ATTACHMENT_SRV"
APPROVAL = f"{ROOT}/ZCANON_APPROVAL_SRV"
IDEMPOTENCY = f"{ROOT}/ZCANON_IDEMPOTENCY_SRV"
EXPAND = "to_BusinessPartnerAddress/to_EmailAddress,to_BusinessPartnerAddress/to_PhoneNumber,"
EXPAND += "to_BusinessPartnerTax,to_Supplier"
PO_EXPAND = "to_PurchaseOrderItem/to_ScheduleLine"
#: Operations that PATCH fields: (entity kind, the fields they set); compensations restore.
PATCHES: dict[str, tuple[str, dict[str, Any]]] = {
    "supplier.delete_record": ("bp", {"IsMarkedForArchiving": True}),
    "supplier.block": ("bp", {"BusinessPartnerIsBlocked": True}),
}
RESTORES = {"supplier.unblock": "bp", "supplier.restore_bank_account": "bank"}
PO_RESTORES = {"purchase_order.reopen": "item", "purchase_order.restore_delivery_date": "line"}
#: What tells, on a system without ZCANON_IDEMPOTENCY_SRV, whether a write in doubt happened
#: (`evidence`); operations not named leave no standard trace and are never re-sent blindly.
EVIDENCE = {
    "supplier.create_record": "a business partner not marked for archiving holds the tax number",
    "supplier.delete_record": "IsMarkedForArchiving is true",
    "supplier.block": "BusinessPartnerIsBlocked is not yet true (else: what it replaced is lost)",
    "supplier.unblock": "the block fields hold the values restored",
    "supplier.update_bank_account": "the bank fields do not yet hold the new values (else lost)",
    "supplier.restore_bank_account": "the bank fields hold the values restored",
    "purchase_order.approve": "PurchasingProcessingStatus is 05 (released)",
    "purchase_order.revoke_approval": "PurchasingProcessingStatus is not 05",
    "purchase_order.close": "no item is completely delivered yet (else: what it replaced is lost)",
    "purchase_order.reopen": "the items hold the IsCompletelyDelivered values restored",
    "purchase_order.update_delivery_date": "no schedule line holds the new date yet (else lost)",
    "purchase_order.restore_delivery_date": "the schedule lines hold the dates restored",
}
#: Entity sets of the paths a PATCH goes to, for the metadata check.
ENTITY_SETS = {"bp": "A_BusinessPartner", "bank": "A_BusinessPartnerBank", "supplier": "A_Supplier"}
#: The block a deployment chooses for `supplier.block`, and the entity that carries it: the
#: central block, or the supplier's purchasing or posting block.
BLOCK_FIELDS = {
    "BusinessPartnerIsBlocked": "bp",
    "PurchasingIsBlocked": "supplier",
    "PostingIsBlocked": "supplier",
}


def _check(entity_set: str, fields: dict[str, Any]) -> None:
    """Refuse, before sending, a PATCH the service's published metadata does not allow."""
    try:
        sap_schema.check(entity_set, fields, creating=False)
    except sap_schema.MetadataError as e:
        raise ErpOperationFailed(f"SAP: {e}") from e


def _error_text(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"]["value"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200]


def _date(value: str | None) -> str | None:
    """`/Date(1546560000000)/` -> `2019-01-04`."""
    if not value or not value.startswith("/Date("):
        return None
    millis = int(value[6:].split(")")[0])
    return datetime.fromtimestamp(millis / 1000, tz=UTC).date().isoformat()


def _odata_date(iso: str) -> str:
    moment = datetime.combine(date.fromisoformat(iso), datetime.min.time(), tzinfo=UTC)
    return f"/Date({int(moment.timestamp() * 1000)})/"


def _id(canonical_id: str | None, prefix: str) -> str:
    head, _, value = (canonical_id or "").partition(":")
    if head != prefix or not value:
        raise ErpOperationFailed(f"{canonical_id!r} is not a SAP {prefix} id")
    return value


def _results(nav: Any) -> list[dict[str, Any]]:
    return list((nav or {}).get("results") or []) if isinstance(nav, dict) else []


def po_value(items: list[dict[str, Any]]) -> float:
    """A purchase order's net value: each item's quantity times its price per price unit."""
    total = 0.0
    for item in items:
        per = float(item.get("NetPriceQuantity") or 1) or 1.0
        total += round(float(item["OrderQuantity"]) * float(item["NetPriceAmount"]) / per, 2)
    return round(total, 2)


def _fields(entity: dict[str, Any]) -> dict[str, str]:
    """One extract row of an entity: its own fields (navigation properties left out)."""
    return {k: "" if v is None else str(v) for k, v in entity.items() if not isinstance(v, dict)}


def flatten_bp(entity: dict[str, Any]) -> dict[str, str]:
    """One extract row of a business partner: its own fields, first address, tax, e-mail, phone."""
    address = (_results(entity.get("to_BusinessPartnerAddress")) or [{}])[0]
    tax = (_results(entity.get("to_BusinessPartnerTax")) or [{}])[0]
    email = (_results(address.get("to_EmailAddress")) or [{}])[0]
    phone = (_results(address.get("to_PhoneNumber")) or [{}])[0]
    row = {k: v for k, v in entity.items() if not isinstance(v, dict)}
    row.update({k: v for k, v in address.items() if not isinstance(v, dict)})
    row.update(
        BPTaxType=tax.get("BPTaxType"),
        BPTaxNumber=tax.get("BPTaxNumber"),
        EmailAddress=email.get("EmailAddress"),
        PhoneNumber=phone.get("PhoneNumber"),
    )
    return {k: "" if v is None else str(v) for k, v in row.items()}


#: Extract rows of an entity set read with more than its own fields: what it is expanded with,
#: and how a row is flattened from it.
EXPANDED = {"A_BusinessPartner": EXPAND}
FLATTENED = {"A_BusinessPartner": flatten_bp}


class SapSettings(ErpSettings, Protocol):
    """What the SAP connector is built from: the common ERP settings and its own."""

    @property
    def erp_sap_grouping(self) -> str | None: ...

    @property
    def erp_sap_block_field(self) -> str: ...


@register("sap")
class SapConnector(OperationRunner):
    """The ERP connector for SAP S/4HANA's OData v2 APIs.

    It runs (`operations`, from its `@runs` methods) the supplier and purchase-order operations.
    No journal entries: a posted item's G/L account cannot be changed through SAP's published
    APIs (a reclassification is a new posting), and no service tickets (docs/ERP.md)."""

    name = "SAP"
    #: What tells a write in doubt happened without ZCANON_IDEMPOTENCY_SRV (`DeclaresEvidence`).
    evidence_of = EVIDENCE
    #: Which entity set keeps each entity type: the one its `source` names in this profile
    #: (None: the shipped `config/profiles/sap.yaml`).
    profile: Profile | None = None

    def __init__(
        self,
        base_url: str,
        *,
        username: str,
        password: str,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        grouping: str | None = None,
        lookup_service: bool | None = None,
        block_field: str = "BusinessPartnerIsBlocked",
    ) -> None:
        if block_field not in BLOCK_FIELDS:
            raise ValueError(f"block_field: one of {', '.join(BLOCK_FIELDS)}, not {block_field!r}")
        #: Which block `supplier.block` sets (a deployment's choice, see BLOCK_FIELDS).
        self.block_field = block_field
        kind = BLOCK_FIELDS[block_field]
        self.patches = {**PATCHES, "supplier.block": (kind, {block_field: True})}
        self.restores = {**RESTORES, "supplier.unblock": kind}
        #: The BP grouping new suppliers get (groupings are configured per system); None lets
        #: the system choose its default.
        self.grouping = grouping
        #: Whether ZCANON_IDEMPOTENCY_SRV is installed; None: ask the system once.
        self.lookup_service = lookup_service
        self.http = HttpErp(
            base_url,
            auth=httpx.BasicAuth(username, password),
            timeout=timeout,
            name=self.name,
            error_text=_error_text,
            transport=transport,
        )
        self._token: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: SapSettings) -> SapConnector:
        """The connector the deployment's settings describe (`gateway.erp.registry`)."""
        erp = access(settings)
        return cls(erp.url, username=erp.username, password=erp.password, timeout=erp.timeout,
                   lookup_service=erp.lookup_service, grouping=settings.erp_sap_grouping,
                   block_field=settings.erp_sap_block_field)  # fmt: skip

    # -- reads -------------------------------------------------------------------------------
    def _get(self, path: str, params: dict[str, str] | None = None) -> tuple[Any, str | None]:
        response = self.http.send("GET", path, params=params, missing_ok=True)
        if response is None:
            return None, None
        return self.http.json(response)["d"], response.headers.get("etag")

    def _entity_set(self, entity_type: str) -> str | None:
        """The entity set keeping an entity type's records, by its profile's source."""
        source = declared_source(self.profile or shipped_profile("sap"), entity_type)
        return (source or {}).get("entity_set")

    def read_record(self, entity_type: str, canonical_id: str) -> ErpRecord | None:
        entity_set = self._entity_set(entity_type)
        if entity_set == "A_BusinessPartner" and canonical_id.startswith("BusinessPartner:"):
            return self._partner(entity_type, canonical_id)
        if entity_set == "A_PurchaseOrder" and canonical_id.startswith("PurchaseOrder:"):
            return self._order(entity_type, canonical_id)
        return None

    def _partner(self, entity_type: str, canonical_id: str) -> ErpRecord | None:
        """A business partner in the gateway's field roles; one with a supplier account (the
        read-only `Supplier` of A_BusinessPartner) with its bank account too."""
        bp = _id(canonical_id, "BusinessPartner")
        entity, _ = self._get(f"{BP}/A_BusinessPartner('{bp}')", {"$expand": EXPAND})
        if entity is None:
            return None
        row = flatten_bp(entity)
        fields: dict[str, Any] = {
            "name": row["BusinessPartnerFullName"],
            "tax_id": row["BPTaxNumber"],
            "address": row.get("StreetName"),
            "city": row.get("CityName"),
            "state": row.get("Region"),
            "postcode": row.get("PostalCode"),
            "blocked": bool(
                entity[self.block_field]
                if BLOCK_FIELDS[self.block_field] == "bp"
                else (entity.get("to_Supplier") or {}).get(self.block_field)
            ),
        }
        if entity.get("Supplier"):  # a supplier account: the bank Canon's actions change
            bank, _ = self._get(self._bank_path(bp))
            fields.update(
                iban=(bank or {}).get("IBAN"),
                account_holder=(bank or {}).get("BankAccountHolderName"),
            )
        return record(entity_type, canonical_id, fields, entity["IsMarkedForArchiving"])

    def _order(self, entity_type: str, canonical_id: str) -> ErpRecord | None:
        """A purchase order in the gateway's field roles, with its supplier's name."""
        entity = self._po(_id(canonical_id, "PurchaseOrder"))
        if entity is None:
            return None
        supplier_id = f"BusinessPartner:{entity['Supplier']}"
        supplier = self._partner("supplier", supplier_id)
        items = _results(entity.get("to_PurchaseOrderItem"))
        dates = sorted(
            d
            for i in items
            for line in _results(i.get("to_ScheduleLine"))
            if (d := _date(line.get("ScheduleLineDeliveryDate")))
        )
        return record(
            entity_type,
            canonical_id,
            {
                "supplier_id": supplier_id,
                "supplier_name": supplier.fields.get("name") if supplier else None,
                "amount": po_value(items),
                "currency": entity["DocumentCurrency"],
                "delivery_date": dates[0] if dates else None,
                "issued": _date(entity["PurchaseOrderDate"]),
                "approved": entity["PurchasingProcessingStatus"] == "05",
                "closed": bool(items) and all(i["IsCompletelyDelivered"] for i in items),
            },
            False,
        )

    def _po(self, number: str) -> Any:
        """A purchase order with its items and their schedule lines, or None."""
        entity, _ = self._get(f"{PO}/A_PurchaseOrder('{number}')", {"$expand": PO_EXPAND})
        return entity

    def value_history(self, entity_type: str, canonical_id: str, field: str) -> list[float]:
        if self._entity_set(entity_type) != "A_PurchaseOrder" or field != "amount":
            return []
        number = _id(canonical_id, "PurchaseOrder")
        entity, _ = self._get(f"{PO}/A_PurchaseOrder('{number}')")
        if entity is None:
            return []
        params = {
            "$filter": f"Supplier eq '{entity['Supplier']}'",
            "$expand": "to_PurchaseOrderItem",
        }
        return [
            po_value(_results(po.get("to_PurchaseOrderItem")))
            for page in self._pages(f"{PO}/A_PurchaseOrder", params, 500)
            for po in page
            if po["PurchaseOrder"] != number
        ]

    def _pages(
        self, path: str, params: dict[str, str], page_size: int
    ) -> Iterator[list[dict[str, Any]]]:
        """Every row of a collection, in client pages of `page_size` rows.

        Each page asks `$top`/`$skip` and follows the `__next` links the server adds when it
        cuts an answer short. A page with fewer rows than `$top` ends the collection only when
        `__count` says no rows are left (a server that caps pages without `__next` is read on).
        """
        skip, total = 0, None
        while True:
            rows: list[dict[str, Any]] = []
            url: str | None = path
            sent: dict[str, str] | None = {
                **params,
                "$top": str(page_size),
                "$skip": str(skip),
                "$inlinecount": "allpages",
            }
            while url is not None:
                body = self.http.json(self.http.send("GET", url, params=sent))["d"]
                rows.extend(body["results"])
                if total is None and "__count" in body:
                    total = skip + int(body["__count"])
                url, sent = body.get("__next"), None
            if rows:
                yield rows
            skip += len(rows)
            if not rows or (len(rows) < page_size and (total is None or skip >= total)):
                return

    def extract(
        self, entity_type: str, source: Source | None, page_size: int = 500
    ) -> Iterator[list[dict[str, str]]]:
        """Rows of the entity set the profile names (`source: {service, entity_set, filter}`):
        a business partner flattened with its first address, tax number, e-mail and phone;
        any other entity its own fields."""
        where = source_fields(
            self.name, entity_type, source, ("service", "entity_set"), ("filter",)
        )
        entity_set = where["entity_set"]
        params = {"$filter": where["filter"]} if where.get("filter") else {}
        if entity_set in EXPANDED:
            params["$expand"] = EXPANDED[entity_set]
        flatten = FLATTENED.get(entity_set, _fields)
        for page in self._pages(f"{ROOT}/{where['service']}/{entity_set}", params, page_size):
            yield [flatten(e) for e in page]

    # -- writes ------------------------------------------------------------------------------
    def _csrf(self, refresh: bool = False) -> str:
        with self._lock:
            if self._token is None or refresh:
                response = self.http.send("GET", f"{BP}/", headers={"x-csrf-token": "Fetch"})
                assert response is not None
                self._token = response.headers.get("x-csrf-token")
                if not self._token:
                    raise ErpOperationFailed("SAP: the server handed out no CSRF token")
            return self._token

    def _write(
        self,
        method: str,
        path: str,
        *,
        key: str,
        json_body: Any = None,
        params: dict[str, str] | None = None,
        etag: str | None = None,
    ) -> Any:
        for attempt in (0, 1):
            headers = {"x-csrf-token": self._csrf(refresh=attempt == 1)}
            if etag is not None:
                headers["If-Match"] = etag
            response = self.http.client.request(
                method,
                path,
                json=json_body,
                params=params,
                headers={**headers, "Idempotency-Key": key},
            )
            required = response.headers.get("x-csrf-token", "").lower() == "required"
            if response.status_code == 403 and required and attempt == 0:
                continue
            return self.http.json(self.http.check(response))
        raise AssertionError("unreachable")

    def _bank_path(self, bp: str) -> str:
        return f"{BP}/A_BusinessPartnerBank(BusinessPartner='{bp}',BankIdentification='0001')"

    def _path(self, kind: str, canonical_id: str | None) -> str:
        bp = _id(canonical_id, "BusinessPartner")
        if kind == "supplier":
            return f"{BP}/A_Supplier('{bp}')"
        return self._bank_path(bp) if kind == "bank" else f"{BP}/A_BusinessPartner('{bp}')"

    def _patch(self, op: ErpOperation, kind: str, fields: dict[str, Any]) -> ErpResult:
        _check(ENTITY_SETS[kind], fields)
        path = self._path(kind, op.canonical_id)
        current, etag = self._get(path)
        if current is None:
            raise ErpOperationFailed(f"SAP: {op.canonical_id} does not exist")
        previous = {k: current.get(k) for k in fields}
        self._send_write("PATCH", path, op, json_body=fields, etag=etag)
        return result(op.idempotency_key, op.operation, None, {"previous": previous})

    def _po_parts(self, canonical_id: str | None, level: str) -> list[tuple[str, str, Any]]:
        """(label, path, entity) of each item (`level` "item") or schedule line ("line")."""
        number = _id(canonical_id, "PurchaseOrder")
        entity = self._po(number)
        if entity is None:
            raise ErpOperationFailed(f"SAP: {canonical_id} does not exist")
        parts: list[tuple[str, str, Any]] = []
        for item in _results(entity.get("to_PurchaseOrderItem")):
            code = item["PurchaseOrderItem"]
            if level == "item":
                keys = f"PurchaseOrder='{number}',PurchaseOrderItem='{code}'"
                parts.append((code, f"{PO}/A_PurchaseOrderItem({keys})", item))
                continue
            for line in _results(item.get("to_ScheduleLine")):
                keys = (
                    f"PurchasingDocument='{number}',PurchasingDocumentItem='{code}',"
                    f"ScheduleLine='{line['ScheduleLine']}'"
                )
                label = f"{code}-{line['ScheduleLine']}"
                parts.append((label, f"{PO}/A_PurchaseOrderScheduleLine({keys})", line))
        return parts

    def _patch_parts(
        self, op: ErpOperation, level: str, wanted: dict[str, dict[str, Any]] | dict[str, Any]
    ) -> ErpResult:
        """PATCH each item or schedule line that does not yet hold the wanted fields.

        `wanted` is one set of fields for all, or (to restore) fields by label. Each PATCH is its
        own write, with the key `<key>@<label>`: a write made before under that key (found by
        look-up) is not sent again, and its recorded previous values are kept.
        """
        entity_set = "A_PurchaseOrderItem" if level == "item" else "A_PurchaseOrderScheduleLine"
        previous: dict[str, dict[str, Any]] = {}
        for label, path, entity in self._po_parts(op.canonical_id, level):
            fields = wanted.get(label) if op.operation in PO_RESTORES else wanted
            if not isinstance(fields, dict) or not fields:
                continue
            _check(entity_set, fields)
            key = f"{op.idempotency_key}@{label}"
            try:
                done = self.lookup(key)
            except ErpLookupMissing:
                done = None
            if done is not None:
                previous[label] = dict(done.data.get("previous") or {})
                continue
            if all(entity.get(k) == v for k, v in fields.items()):
                continue
            previous[label] = {k: entity.get(k) for k in fields}
            etag = (entity.get("__metadata") or {}).get("etag")
            self._send_write("PATCH", path, op, json_body=fields, etag=etag, key=key)
        return result(op.idempotency_key, op.operation, None, {"previous": previous})

    def _send_write(
        self, method: str, path: str, op: ErpOperation, key: str | None = None, **kw: Any
    ) -> Any:
        try:
            return self._write(method, path, key=key or op.idempotency_key, **kw)
        except httpx.TimeoutException as e:
            raise ErpUnavailable(
                f"SAP: {method} {path} timed out; it may or may not have run"
            ) from e
        except httpx.TransportError as e:
            raise ErpUnavailable(f"SAP: {method} {path}: {type(e).__name__}: {e}") from e

    # -- the operations (`OperationRunner.run` calls the one marked for each) ----------------
    @runs(*PATCHES)
    def _set(self, op: ErpOperation) -> ErpResult:
        """PATCH the fields of the operation (`supplier.block`: the block the deployment chose)."""
        kind, fields = self.patches[op.operation]
        return self._patch(op, kind, dict(fields))

    @runs(*RESTORES)
    def _restore(self, op: ErpOperation) -> ErpResult:
        return self._patch(
            op, self.restores[op.operation], dict(undone_data(op).get("previous") or {})
        )

    @runs("supplier.update_bank_account")
    def _update_bank_account(self, op: ErpOperation) -> ErpResult:
        p = op.params
        fields = {"IBAN": p.get("iban"), "BankAccountHolderName": p.get("account_holder")}
        return self._patch(op, "bank", fields)

    @runs("purchase_order.close")
    def _close(self, op: ErpOperation) -> ErpResult:
        return self._patch_parts(op, "item", {"IsCompletelyDelivered": True})

    @runs("purchase_order.update_delivery_date")
    def _update_delivery_date(self, op: ErpOperation) -> ErpResult:
        date_ = _odata_date(str(op.params.get("delivery_date")))
        return self._patch_parts(op, "line", {"ScheduleLineDeliveryDate": date_})

    @runs(*PO_RESTORES)
    def _restore_parts(self, op: ErpOperation) -> ErpResult:
        previous = dict(undone_data(op).get("previous") or {})
        return self._patch_parts(op, PO_RESTORES[op.operation], previous)

    @runs("supplier.create_record")
    def _create_record(self, op: ErpOperation) -> ErpResult:
        p = op.params
        tax = digits(p.get("tax_id"))
        address = {
            "StreetName": p.get("address"),
            "CityName": p.get("city"),
            "Region": p.get("state"),
            "PostalCode": p.get("postcode"),
            "Country": "BR",
        }
        body = {
            "BusinessPartnerCategory": "1" if len(tax) == 11 else "2",
            "OrganizationBPName1": p.get("name"),
            "SearchTerm1": str(p.get("name") or "")[:20],
            "to_BusinessPartnerAddress": {"results": [{k: v for k, v in address.items() if v}]},
            "to_BusinessPartnerTax": {
                "results": [{"BPTaxType": "BR1" if len(tax) == 14 else "BR2", "BPTaxNumber": tax}]
            },
            "to_BusinessPartnerRole": {"results": [{"BusinessPartnerRole": "FLVN00"}]},
        }
        if self.grouping:
            body["BusinessPartnerGrouping"] = self.grouping
        return self._sent(op, "POST", f"{BP}/A_BusinessPartner", body)

    @runs("purchase_order.approve", "purchase_order.revoke_approval")
    def _release(self, op: ErpOperation) -> ErpResult:
        """A release is BAPI_PO_RELEASE (reset: BAPI_PO_RESET_RELEASE), not a PATCH of the
        standard API, where PurchasingProcessingStatus is not updatable."""
        number = _id(op.canonical_id, "PurchaseOrder")
        approve = op.operation.endswith("approve")
        call = "ReleasePurchaseOrder" if approve else "ResetPurchaseOrderRelease"
        params = {"PurchaseOrder": f"'{number}'"}
        return self._sent(op, "POST", f"{APPROVAL}/{call}", None, params)

    @runs("supplier.attach_document")
    def _attach_document(self, op: ErpOperation) -> ErpResult:
        bp = _id(op.canonical_id, "BusinessPartner")
        url = str(op.params.get("document") or "")
        params = {
            "BusinessObjectTypeName": "'BUS1006'",
            "LinkedSAPObjectKey": f"'{bp}'",
            "Url": f"'{url}'",
            "UrlDescription": "'Supplier registration document'",
            "MIMEType": "'text/url'",
        }
        return self._sent(op, "POST", f"{ATTACH}/CreateUrlAsAttachment", None, params)

    @runs("supplier.detach_document")
    def _detach_document(self, op: ErpOperation) -> ErpResult:
        bp = _id(op.canonical_id, "BusinessPartner")
        doc = undone_data(op).get("document_id")
        keys = (
            f"DocumentInfoRecordDocType='SAT',DocumentInfoRecordDocNumber='{doc}',"
            "DocumentInfoRecordDocVersion='00',DocumentInfoRecordDocPart='000',"
            f"LogicalDocument='',ArchiveDocumentID='{doc}',LinkedSAPObjectKey='{bp}',"
            "BusinessObjectTypeName='BUS1006'"
        )
        return self._sent(op, "DELETE", f"{ATTACH}/AttachmentContentSet({keys})")

    @runs("supplier.start_approval_routing")
    def _start_approval_routing(self, op: ErpOperation) -> ErpResult:
        bp = _id(op.canonical_id, "BusinessPartner")
        body = {"BusinessObjectType": "BUS1006", "ObjectKey": bp}
        return self._sent(op, "POST", f"{APPROVAL}/ApprovalRequests", body)

    @runs("supplier.cancel_approval_routing")
    def _cancel_approval_routing(self, op: ErpOperation) -> ErpResult:
        _id(op.canonical_id, "BusinessPartner")  # the target is a business partner
        path = f"{APPROVAL}/ApprovalRequests('{undone_data(op).get('routing_id')}')"
        return self._sent(op, "DELETE", path)

    def _sent(
        self,
        op: ErpOperation,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, str] | None = None,
    ) -> ErpResult:
        """The result of one write of the operation, as the ERP answered it."""
        answer = self._send_write(method, path, op, json_body=body, params=params)
        return self._result(op.idempotency_key, op.operation, answer, {})

    def _has_lookup(self) -> bool:
        if self.lookup_service is None:
            document = self.http.send("GET", f"{IDEMPOTENCY}/", missing_ok=True)
            self.lookup_service = document is not None
        return self.lookup_service

    def lookup(self, idempotency_key: str) -> ErpResult | None:
        if not self._has_lookup():
            raise ErpLookupMissing("SAP: ZCANON_IDEMPOTENCY_SRV is not installed on this system")
        found, _ = self._get(f"{IDEMPOTENCY}/Operations('{idempotency_key}')")
        if found is None:
            return None
        previous = json.loads(found["Previous"] or "{}")
        extra = {"previous": previous} if previous else {}
        return self._result(
            idempotency_key, str(found["Operation"]), json.loads(found["Response"] or "null"), extra
        )

    # -- evidence from standard reads (gateway.erp.recovery) ------------------------------
    def evidence(self, operation: ErpOperation) -> ErpResult | None:
        """Whether `operation` happened, read from standard entities (see EVIDENCE)."""
        op, name = operation, operation.operation
        undone: dict[str, Any] = dict(op.params.get("result") or {}).get("data") or {}
        said = {"evidence": EVIDENCE.get(name, "")}
        if name == "supplier.create_record":
            return self._created(op)
        if name in ("purchase_order.approve", "purchase_order.revoke_approval"):
            entity = self._po(_id(op.canonical_id, "PurchaseOrder"))
            if entity is None:
                raise ErpUndecided(f"SAP: {op.canonical_id} does not exist")
            released = entity["PurchasingProcessingStatus"] == "05"
            happened = released if name.endswith("approve") else not released
            return result(op.idempotency_key, name, None, said) if happened else None
        if name in PO_RESTORES or name in (
            "purchase_order.close",
            "purchase_order.update_delivery_date",
        ):
            return self._parts_evidence(op, undone, said)
        fields: dict[str, Any] | None = None
        if name in self.patches:
            kind, fields = self.patches[name]
        elif name in self.restores:
            kind, fields = self.restores[name], dict(undone.get("previous") or {})
        elif name == "supplier.update_bank_account":
            p = op.params
            kind = "bank"
            fields = {"IBAN": p.get("iban"), "BankAccountHolderName": p.get("account_holder")}
        if fields is None:
            raise ErpUndecided(
                f"SAP: {name} ({op.idempotency_key}) leaves no trace Canon can read in standard "
                f"entities; check {op.canonical_id} by hand before running it again"
            )
        current, _ = self._get(self._path(kind, op.canonical_id))
        if current is None:
            raise ErpUndecided(f"SAP: {op.canonical_id} does not exist")
        if not all(current.get(k) == v for k, v in fields.items()):
            return None  # a PATCH is all or nothing: the fields do not hold it, so it did not run
        if name in self.restores or name == "supplier.delete_record":
            return result(op.idempotency_key, name, None, {"previous": {}, **said})
        raise ErpUndecided(
            f"SAP: {op.canonical_id} already holds {fields}: {name} ({op.idempotency_key}) may "
            "have run, and the values it replaced cannot be read back; check the change log "
            "of the business partner before going on"
        )

    def _created(self, op: ErpOperation) -> ErpResult | None:
        tax = digits(op.params.get("tax_id"))
        found, _ = self._get(
            f"{BP}/A_BusinessPartnerTaxNumber", {"$filter": f"BPTaxNumber eq '{tax}'"}
        )
        partners = []
        for row in _results(found):
            entity, _ = self._get(f"{BP}/A_BusinessPartner('{row['BusinessPartner']}')")
            if entity is not None and not entity["IsMarkedForArchiving"]:
                partners.append(str(row["BusinessPartner"]))
        if not partners:
            return None
        if len(partners) > 1:
            raise ErpUndecided(
                f"SAP: business partners {', '.join(partners)} all hold tax number {tax}; "
                f"which one {op.idempotency_key} created cannot be told"
            )
        said = {"evidence": EVIDENCE["supplier.create_record"]}
        return result(op.idempotency_key, op.operation, f"BusinessPartner:{partners[0]}", said)

    def _parts_evidence(
        self, op: ErpOperation, undone: dict[str, Any], said: dict[str, str]
    ) -> ErpResult | None:
        name = op.operation
        restoring = name in PO_RESTORES
        level = PO_RESTORES[name] if restoring else ("item" if name.endswith("close") else "line")
        if restoring:
            wanted = dict(undone.get("previous") or {})
        elif level == "item":
            wanted = {"IsCompletelyDelivered": True}
        else:
            wanted = {"ScheduleLineDeliveryDate": _odata_date(str(op.params.get("delivery_date")))}
        parts = self._po_parts(op.canonical_id, level)
        holds = [
            all(entity.get(k) == v for k, v in (wanted.get(label) or {}).items())
            if restoring
            else all(entity.get(k) == v for k, v in wanted.items())
            for label, _, entity in parts
            if not restoring or label in wanted
        ]
        if restoring:
            return (
                result(op.idempotency_key, name, None, {"previous": {}, **said})
                if all(holds)
                else None
            )
        if not any(holds):
            return None
        raise ErpUndecided(
            f"SAP: some {'items' if level == 'item' else 'schedule lines'} of {op.canonical_id} "
            f"already hold {wanted}: {name} ({op.idempotency_key}) may have run in part, and "
            "what it replaced cannot be read back; check the purchase order before going on"
        )

    @staticmethod
    def _result(key: str, operation: str, body: Any, extra: dict[str, Any]) -> ErpResult:
        """What a write answered, the same whether read live or from the operation log."""
        d = (body or {}).get("d", {}) if isinstance(body, dict) else {}
        data = dict(extra)
        canonical_id = None
        if "BusinessPartnerCategory" in d:
            canonical_id = f"BusinessPartner:{d['BusinessPartner']}"
        if "ArchiveDocumentID" in d:
            data["document_id"] = d["ArchiveDocumentID"]
        if "RequestId" in d:
            data["routing_id"] = d["RequestId"]
        return result(key, operation, canonical_id, data)
