"""`OracleConnector`: Oracle Fusion Cloud over REST (`/fscmRestApi/resources/11.13.18.05`).

Suppliers are `Supplier:{SupplierId}` (`suppliers`, with `addresses`, `sites` and `attachments`),
customers `Party:{PartyId}` (`hubOrganizations`), purchase orders `PurchaseOrder:{POHeaderId}`
(`purchaseOrders` to read and its actions to submit, close and reopen, addressed by the
server's hash key found with `q=POHeaderId=`; a delivery date is changed by a change order:
`draftPurchaseOrders`, its lines' `schedules`, then `action/submit`).
Oracle publishes no action that approves an order or withdraws its approval: approving is
resubmitting an order pending approval with `bypassApprovalsFlag` (Canon's approval stands for
the approval workflow), and revoking an approval is refused (cancel or change the order in
Oracle).
Service requests of Oracle Fusion Service are tickets (`ServiceRequest:{SrNumber}`,
`/crmRestApi/resources/11.13.18.05/serviceRequests`), closed and reopened by their `StatusCd`.
Lists page with `limit` (at most 500) and `offset` while `hasMore`.
A supplier is never deleted, only made inactive (`InactiveDate`). HTTP basic auth; every write
carries an `Idempotency-Key` and is looked up by it at `canonOperations/{key}` where that
extension is installed.

As Oracle's REST references have it (docs.oracle.com, Procurement `fapra` and Financials
`farfa`): a block is a purchasing hold on each of the supplier's sites
(`suppliers/{id}/child/sites`: `HoldAllNewPurchasingDocumentsFlag`, `PurchasingHoldReason`);
bank details are the external bank account owned by the supplier's party
(`externalBankAccounts?q=accountOwners.AccountOwnerPartyIdentifier=<SupplierPartyId>`: `IBAN`,
and `BankAccountName` for the holder's name); addresses are created with `CountryCode`.
Every write body is checked against those references as `gateway.erp.oracle_schema` writes them
down before it is sent: an attribute the resource lacks, or may not change, is refused here.
(`approvalRequests` and `canonOperations` are Canon's own extensions, not in the reference.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import httpx

from gateway.erp import oracle_schema
from gateway.erp.base import ErpOperation, ErpRecord, ErpResult
from gateway.erp.http import (
    HttpErp,
    digits,
    pages,
    record,
    result,
)
from gateway.erp.operations import OperationRunner, runs, undone_data
from gateway.erp.registry import ErpSettings, access, register
from gateway.erp.sources import Source, declared_source, shipped_profile, source_fields
from gateway.errors import (
    ErpError,
    ErpLookupMissing,
    ErpOperationFailed,
    ErpUndecided,
    ErpUnsupported,
)
from resolver.profiles import Profile

ROOT = "/fscmRestApi/resources/11.13.18.05"
#: Oracle Fusion Service (CX) resources: service requests.
CRM = "/crmRestApi/resources/11.13.18.05"
#: `StatusCd` of a service request (lookup ORA_SVC_SR_STATUS_CD) and the `status` role it is.
TICKET_STATUSES = {
    "ORA_SVC_NEW": "new",
    "ORA_SVC_INPROGRESS": "in_progress",
    "ORA_SVC_WAITING": "waiting",
    "ORA_SVC_RESOLVED": "resolved",
    "ORA_SVC_CLOSED": "closed",
}
CLOSED = "ORA_SVC_CLOSED"
#: The REST APIs a profile's source may name (`api`): Financials and Supply Chain (the
#: default), and Customer Experience (Oracle Fusion Service).
APIS = {"fscm": ROOT, "crm": CRM}
MAX_LIMIT = 500
ACTION_TYPE = "application/vnd.oracle.adf.action+json"
TAX_TYPES = {14: "CORPORATION", 11: "INDIVIDUAL"}
#: Gateway operations that are purchase-order actions, and their bodies.
PO_ACTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "purchase_order.approve": ("submit", {"bypassApprovalsFlag": True}),
    "purchase_order.close": ("close", {"closeAction": "close"}),
    "purchase_order.reopen": ("reopen", {}),
}
PENDING = "PENDING APPROVAL"
#: Supplier writes settled from the supplier, its sites or its bank account (`evidence`).
SUPPLIER_EVIDENCE = (
    "supplier.delete_record",
    "supplier.block",
    "supplier.unblock",
    "supplier.update_bank_account",
    "supplier.restore_bank_account",
)
#: `expand` that reads an order with its lines' schedules (where its delivery dates are).
SCHEDULES = "lines.schedules"
#: The dates Canon changes on a schedule (a change order's; in force after its submit).
DATE = "RequestedDeliveryDate"
HOLD = "HoldAllNewPurchasingDocumentsFlag"
#: What tells, without `canonOperations`, whether a write in doubt happened (`evidence`).
EVIDENCE = {
    "supplier.create_record": "an active supplier holds the taxpayer id",
    "purchase_order.approve": f"the order is no longer {PENDING}",
    "supplier.delete_record": "the supplier is inactive (InactiveDate)",
    "supplier.attach_document": "an attachment of the supplier has the URL linked",
    "supplier.detach_document": "the attachment is gone",
    "supplier.block": "the sites do not hold the purchasing hold yet (else: what it replaced is "
    "lost)",
    "supplier.unblock": "the sites hold the hold fields restored",
    "supplier.update_bank_account": "the external bank account does not hold the new IBAN and "
    "holder yet (else: what they replaced is lost)",
    "supplier.restore_bank_account": "the external bank account holds the values restored",
    "purchase_order.close": "the order is not CLOSED yet (else: closed before or by it?)",
    "purchase_order.reopen": "the order is no longer CLOSED",
    "purchase_order.update_delivery_date": "no schedule in force holds the new date yet (else "
    "what it replaced is lost)",
    "purchase_order.restore_delivery_date": "every schedule in force holds the date restored",
}


def _check(resource: str, body: dict[str, Any], *, creating: bool = False) -> None:
    """Refuse, before sending, a write body Oracle's published reference does not allow."""
    try:
        oracle_schema.check(resource, body, creating=creating)
    except oracle_schema.MetadataError as e:
        raise ErpOperationFailed(f"Oracle: {e}") from e


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("title", body)) if isinstance(body, dict) else str(body)[:200]


def _id(canonical_id: str | None, prefix: str) -> int:
    head, _, value = (canonical_id or "").partition(":")
    if head != prefix or not value.isdigit():
        raise ErpOperationFailed(f"{canonical_id!r} is not an Oracle {prefix} id")
    return int(value)


def _ticket_fields(item: dict[str, Any]) -> dict[str, Any]:
    status = str(item.get("StatusCd") or "")
    return {
        "title": item.get("Title"),
        "status": TICKET_STATUSES.get(status, status.lower()),
        "severity": item.get("SeverityCd"),
    }


def _self_key(item: dict[str, Any]) -> str:
    """The last segment of an item's `self` link: the server's (hash) key of the item."""
    for link in item.get("links") or []:
        if link.get("rel") == "self":
            return str(link["href"]).split("?")[0].rstrip("/").rsplit("/", 1)[-1]
    raise ErpOperationFailed("Oracle: an item without a self link")


def _schedules(order: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The schedules of an order read with `expand=lines.schedules`, by `<line>-<schedule>`."""
    return {
        f"{line['LineNumber']}-{schedule['ScheduleNumber']}": schedule
        for line in order.get("lines") or []
        for schedule in line.get("schedules") or []
    }


def _flat(item: dict[str, Any]) -> dict[str, str]:
    row = {k: v for k, v in item.items() if not isinstance(v, list | dict)}
    for child in ("addresses", "sites"):
        first = (item.get(child) or [{}])[0]
        row.update({k: v for k, v in first.items() if k not in row})
    return {k: "" if v is None else str(v) for k, v in row.items()}


@register("oracle")
class OracleConnector(OperationRunner):
    """The ERP connector for Oracle Fusion Cloud's REST APIs.

    It runs (`operations`, from its `@runs` methods) the supplier and purchase-order operations
    but `purchase_order.revoke_approval`: no published action withdraws an approval, so
    `purchase_order.approve` (whose catalog compensation it is) does not exist on Oracle.
    Service requests (Oracle Fusion Service) are closed and reopened by their `StatusCd`. No
    journal-line reclassification: a posted journal's lines cannot be changed through the
    published `journalBatches` (docs/ERP.md)."""

    name = "Oracle"
    #: What tells a write in doubt happened without `canonOperations` (`DeclaresEvidence`).
    evidence_of = EVIDENCE
    #: Which resource keeps each entity type: the one its `source` names in this profile
    #: (None: the shipped `config/profiles/oracle.yaml`).
    profile: Profile | None = None

    def __init__(
        self,
        base_url: str,
        *,
        username: str,
        password: str,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        lookup_service: bool | None = None,
    ) -> None:
        #: Whether the `canonOperations` extension exists; None: ask the system once.
        self.lookup_service = lookup_service
        self.http = HttpErp(
            base_url,
            auth=httpx.BasicAuth(username, password),
            timeout=timeout,
            name=self.name,
            error_text=_error_text,
            transport=transport,
        )

    @classmethod
    def from_settings(cls, settings: ErpSettings) -> OracleConnector:
        """The connector the deployment's settings describe (`gateway.erp.registry`)."""
        erp = access(settings)
        return cls(erp.url, username=erp.username, password=erp.password, timeout=erp.timeout,
                   lookup_service=erp.lookup_service)  # fmt: skip

    # -- reads -------------------------------------------------------------------------------
    def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        return self.http.json(
            self.http.send("GET", f"{ROOT}/{path}", params=params, missing_ok=True)
        )

    def _resource(self, entity_type: str) -> str | None:
        """The resource keeping an entity type's records, by its profile's source."""
        source = declared_source(self.profile or shipped_profile("oracle"), entity_type)
        return (source or {}).get("resource")

    def read_record(self, entity_type: str, canonical_id: str) -> ErpRecord | None:
        resource = self._resource(entity_type)
        if resource == "suppliers" and canonical_id.startswith("Supplier:"):
            supplier_id = _id(canonical_id, "Supplier")
            item = self._get(f"suppliers/{supplier_id}", {"expand": "addresses"})
            if item is None:
                return None
            row = _flat(item)
            sites = self._sites(supplier_id)
            bank = self._bank(item)
            return record(
                entity_type,
                canonical_id,
                {
                    "name": item["Supplier"],
                    "tax_id": item["TaxpayerId"],
                    "address": row.get("AddressLine1"),
                    "city": row.get("City"),
                    "state": row.get("State"),
                    "postcode": row.get("PostalCode"),
                    "blocked": bool(sites) and all(s[HOLD] for s in sites),
                    "iban": (bank or {}).get("IBAN"),
                    "account_holder": (bank or {}).get("BankAccountName"),
                },
                item["InactiveDate"] is not None,
            )
        if resource == "purchaseOrders" and canonical_id.startswith("PurchaseOrder:"):
            item = self._po(_id(canonical_id, "PurchaseOrder"), SCHEDULES)
            if item is None:
                return None
            dates = [
                str(s["RequestedDeliveryDate"])
                for s in _schedules(item).values()
                if s.get("RequestedDeliveryDate")
            ]
            return record(
                entity_type,
                canonical_id,
                {
                    "supplier_id": f"Supplier:{item['SupplierId']}",
                    "supplier_name": item["Supplier"],
                    "amount": item["Total"],
                    "currency": item["CurrencyCode"],
                    "delivery_date": min(dates) if dates else None,
                    "issued": item["OrderedDate"],
                    "approved": item["Status"] not in ("PENDING APPROVAL", "REJECTED"),
                    "closed": item["Status"] == "CLOSED",
                },
                False,
            )
        if resource == "serviceRequests" and canonical_id.startswith("ServiceRequest:"):
            number = canonical_id.partition(":")[2]
            item = self._ticket(number)
            if item is None:
                return None
            return record(entity_type, canonical_id, _ticket_fields(item), False)
        return None

    def _ticket(self, number: str) -> Any:
        if not number or "/" in number:
            return None
        return self.http.json(
            self.http.send("GET", f"{CRM}/serviceRequests/{number}", missing_ok=True)
        )

    def _po_key(self, header_id: int) -> str | None:
        """The server's hash key of a purchase order (`purchaseOrdersUniqID`), read from the
        collection as Oracle asks clients to: it is not the POHeaderId."""
        body = self._get("purchaseOrders", {"q": f"POHeaderId={header_id}", "limit": "1"})
        for item in (body or {}).get("items") or []:
            for link in item.get("links") or []:
                if link.get("rel") == "self":
                    return _self_key(item)
        return None

    def _po(self, header_id: int, expand: str | None = None) -> Any:
        key = self._po_key(header_id)
        if key is None:
            return None
        return self._get(f"purchaseOrders/{key}", {"expand": expand} if expand else None)

    def _draft_key(self, header_id: int) -> str | None:
        """The hash key of a purchase order's draft (`draftPurchaseOrders`), from its collection."""
        body = self._get("draftPurchaseOrders", {"q": f"POHeaderId={header_id}", "limit": "1"})
        for item in (body or {}).get("items") or []:
            return _self_key(item)
        return None

    def _sites(self, supplier_id: int) -> list[dict[str, Any]]:
        body = self._get(f"suppliers/{supplier_id}/child/sites")
        return list((body or {}).get("items") or [])

    def _bank(self, supplier: dict[str, Any]) -> dict[str, Any] | None:
        """The supplier's external bank account (the first one its party owns), or None."""
        owner = f"accountOwners.AccountOwnerPartyIdentifier={supplier['SupplierPartyId']}"
        body = self._get("externalBankAccounts", {"q": owner, "expand": "accountOwners"})
        items = list((body or {}).get("items") or [])
        return items[0] if items else None

    def _pages(
        self, path: str, size: int, params: dict[str, str] | None = None, root: str = ROOT
    ) -> Iterator[list[dict[str, Any]]]:
        limit = min(size, MAX_LIMIT)

        def fetch(number: int) -> tuple[list[dict[str, Any]], bool]:
            query = {"limit": str(limit), "offset": str(number * limit), **(params or {})}
            body = self.http.json(self.http.send("GET", f"{root}/{path}", params=query))
            return list(body["items"]), bool(body["hasMore"])

        return pages(fetch)

    def value_history(self, entity_type: str, canonical_id: str, field: str) -> list[float]:
        if self._resource(entity_type) != "purchaseOrders" or field != "amount":
            return []
        header_id = _id(canonical_id, "PurchaseOrder")
        item = self._po(header_id)
        if item is None:
            return []
        query = {"q": f"SupplierId={item['SupplierId']}"}
        return [
            float(po["Total"])
            for page in self._pages("purchaseOrders", MAX_LIMIT, query)
            for po in page
            if po["POHeaderId"] != header_id
        ]

    def extract(
        self, entity_type: str, source: Source | None, page_size: int = 500
    ) -> Iterator[list[dict[str, str]]]:
        """Rows of the REST resource the profile names (`source: {resource, expand, api}`),
        page by page: each item's own fields, and those of the first of each child it is read
        with (a supplier's first address and site)."""
        where = source_fields(self.name, entity_type, source, ("resource",), ("expand", "api"))
        api = where.get("api", "fscm")
        if api not in APIS:
            raise ErpError(
                f"Oracle: the profile's source of {entity_type} names api {api!r} "
                f"(known: {', '.join(APIS)})"
            )
        params = {"expand": where["expand"]} if where.get("expand") else {}
        for page in self._pages(where["resource"], page_size, params, root=APIS[api]):
            yield [_flat(item) for item in page]

    # -- writes ------------------------------------------------------------------------------
    def _write(
        self,
        method: str,
        path: str,
        op: ErpOperation,
        body: Any = None,
        content_type: str | None = None,
    ) -> Any:
        headers = {"Content-Type": content_type} if content_type else None
        response = self.http.send(
            method, f"{ROOT}/{path}", json=body, headers=headers, key=op.idempotency_key
        )
        return self.http.json(response)

    def _patch_supplier(self, op: ErpOperation, fields: dict[str, Any]) -> ErpResult:
        _check("suppliers", fields)
        path = f"suppliers/{_id(op.canonical_id, 'Supplier')}"
        current = self._get(path)
        if current is None:
            raise ErpOperationFailed(f"Oracle: {op.canonical_id} does not exist")
        previous = {k: current.get(k) for k in fields}
        answer = self._write("PATCH", path, op, fields)
        return self._result(op.idempotency_key, op.operation, answer, {"previous": previous})

    def _hold(self, op: ErpOperation, wanted: dict[str, dict[str, Any]] | None) -> ErpResult:
        """Put a purchasing hold on every site (`wanted` None), or restore each site's fields."""
        supplier_id = _id(op.canonical_id, "Supplier")
        sites = self._sites(supplier_id)
        if not sites:
            raise ErpOperationFailed(f"Oracle: {op.canonical_id} has no site to hold")
        if len(sites) > 1:
            raise ErpOperationFailed(
                f"Oracle: {op.canonical_id} has {len(sites)} sites; holding each is one write "
                "per site, which Canon does not make under one key yet"
            )
        site = sites[0]
        label = str(site["SupplierSiteId"])
        reason = str(op.params.get("reason") or "Held by Canon")[:240]
        fields = (
            {HOLD: True, "PurchasingHoldReason": reason} if wanted is None else wanted.get(label)
        )
        if not fields:
            return result(op.idempotency_key, op.operation, None, {"previous": {}})
        _check("suppliers/sites", fields)
        previous = {label: {k: site.get(k) for k in fields}}
        path = f"suppliers/{supplier_id}/child/sites/{label}"
        self._write("PATCH", path, op, fields)
        return result(op.idempotency_key, op.operation, None, {"previous": previous})

    def _bank_write(self, op: ErpOperation, fields: dict[str, Any]) -> ErpResult:
        _check("externalBankAccounts", fields)
        supplier = self._get(f"suppliers/{_id(op.canonical_id, 'Supplier')}")
        if supplier is None:
            raise ErpOperationFailed(f"Oracle: {op.canonical_id} does not exist")
        bank = self._bank(supplier)
        if bank is None:
            raise ErpOperationFailed(
                f"Oracle: {op.canonical_id} owns no external bank account to change"
            )
        previous = {k: bank.get(k) for k in fields}
        self._write("PATCH", f"externalBankAccounts/{bank['BankAccountId']}", op, fields)
        return result(op.idempotency_key, op.operation, None, {"previous": previous})

    def _ticket_status(self, op: ErpOperation, status: str | None) -> ErpResult:
        """Set a service request's StatusCd (PATCH `serviceRequests/{SrNumber}`)."""
        number = (op.canonical_id or "").partition(":")[2]
        current = self._ticket(number) if op.canonical_id else None
        if current is None:
            raise ErpOperationFailed(f"Oracle: {op.canonical_id} does not exist")
        if not status:
            raise ErpOperationFailed(f"Oracle: no status of {op.canonical_id} to restore")
        previous = {"StatusCd": current.get("StatusCd")}
        _check("serviceRequests", {"StatusCd": status})
        self.http.send("PATCH", f"{CRM}/serviceRequests/{number}", json={"StatusCd": status},
                       key=op.idempotency_key)  # fmt: skip
        return result(op.idempotency_key, op.operation, None, {"previous": previous})

    def _once(
        self,
        method: str,
        path: str,
        op: ErpOperation,
        part: str,
        body: Any = None,
        content_type: str | None = None,
    ) -> ErpResult | None:
        """Send one write of a several-write operation under its own key `<key>@<part>`, unless
        the operation log shows it made (then what it recorded)."""
        key = f"{op.idempotency_key}@{part}"
        try:
            done = self.lookup(key)
        except ErpLookupMissing:
            done = None
        if done is None:
            headers = {"Content-Type": content_type} if content_type else None
            self.http.send(method, f"{ROOT}/{path}", json=body, headers=headers, key=key)
        return done

    def _reschedule(self, op: ErpOperation, wanted: Callable[[str], Any]) -> ErpResult:
        """Change the requested delivery date of every schedule (`wanted(label)`, None: leave
        it) through a change order, as Oracle's Procurement REST reference has it: open it by
        PATCHing the draft with `ChangeOrderInitiatingParty`, PATCH each schedule of its lines
        (`draftPurchaseOrders/{key}/child/lines/{POLineId}/child/schedules/{key}`), then
        `action/submit` with `bypassApprovalsFlag` (Canon's approval stands for the workflow's,
        as for `purchase_order.approve`). Nothing is in force before the submit.

        Each write has its own key (`<key>@open`, `@<line>-<schedule>`, `@submit`); with
        `canonOperations`, a write made before is not sent again, and a submit made before
        gives back the dates it replaced."""
        header = _id(op.canonical_id, "PurchaseOrder")
        key, name = op.idempotency_key, op.operation
        try:
            submitted = self.lookup(f"{key}@submit")
        except ErpLookupMissing:
            submitted = None
        if submitted is not None:
            previous = dict(submitted.data.get("previous") or {})
            return result(key, name, None, {"previous": previous})
        order = self._po(header, SCHEDULES)
        if order is None:
            raise ErpOperationFailed(f"Oracle: {op.canonical_id} does not exist")
        in_force = _schedules(order)
        previous = {
            label: {DATE: schedule.get(DATE)}
            for label, schedule in in_force.items()
            if wanted(label) is not None and schedule.get(DATE) != wanted(label)
        }
        if not previous:
            return result(key, name, None, {"previous": {}})
        draft = self._draft_key(header)
        if draft is None:
            raise ErpOperationFailed(f"Oracle: {op.canonical_id} has no draft to change")
        base = f"draftPurchaseOrders/{draft}"
        opening = {
            "ChangeOrderInitiatingParty": "Buyer",
            "ChangeOrderDescription": f"Canon {name} ({key})"[:240],
        }
        submit = {"bypassApprovalsFlag": True}
        _check("draftPurchaseOrders", opening)  # every body of the change order, before any
        for label in previous:
            _check("draftPurchaseOrders/lines/schedules", {DATE: wanted(label)})
        _check("draftPurchaseOrders/action/submit", submit, creating=True)
        self._once("PATCH", base, op, "open", opening)
        lines = (self._get(f"{base}/child/lines") or {}).get("items") or []
        for line in lines:
            path = f"{base}/child/lines/{line['POLineId']}/child/schedules"
            for schedule in (self._get(path) or {}).get("items") or []:
                label = f"{line['LineNumber']}-{schedule['ScheduleNumber']}"
                if label not in previous or schedule.get(DATE) == wanted(label):
                    continue
                target = f"{path}/{_self_key(schedule)}"
                self._once("PATCH", target, op, label, {DATE: wanted(label)})
        self._once("POST", f"{base}/action/submit", op, "submit", submit, ACTION_TYPE)
        return result(key, name, None, {"previous": previous})

    # -- the operations (`OperationRunner.run` calls the one marked for each) ----------------
    def unknown(self, operation: ErpOperation) -> ErpUnsupported:
        if operation.operation == "purchase_order.revoke_approval":
            return ErpUnsupported(
                f"Oracle: no published action withdraws the approval of {operation.canonical_id};"
                " cancel the order or change it in Oracle (draftPurchaseOrders) instead"
            )
        return super().unknown(operation)

    @runs("ticket.close")
    def _close_ticket(self, op: ErpOperation) -> ErpResult:
        return self._ticket_status(op, CLOSED)

    @runs("ticket.reopen")
    def _reopen_ticket(self, op: ErpOperation) -> ErpResult:
        return self._ticket_status(op, (undone_data(op).get("previous") or {}).get("StatusCd"))

    @runs("supplier.create_record")
    def _create_record(self, op: ErpOperation) -> ErpResult:
        p = op.params
        tax = digits(p.get("tax_id"))
        address = {
            "AddressName": "MAIN",
            "AddressLine1": p.get("address"),
            "City": p.get("city"),
            "State": p.get("state"),
            "PostalCode": p.get("postcode"),
            "CountryCode": "BR",
        }
        body = {
            "Supplier": p.get("name"),
            "AlternateName": str(p.get("name") or "")[:20],
            "TaxOrganizationTypeCode": TAX_TYPES.get(len(tax), "FOREIGN_CORPORATION"),
            "BusinessRelationshipCode": "SPEND_AUTHORIZED",
            "TaxpayerId": tax,
            "addresses": [{k: v for k, v in address.items() if v}],
        }
        _check("suppliers", body, creating=True)
        answer = self._write("POST", "suppliers", op, body)
        return self._result(op.idempotency_key, op.operation, answer, {})

    @runs("supplier.delete_record")
    def _delete_record(self, op: ErpOperation) -> ErpResult:
        return self._patch_supplier(op, {"InactiveDate": date.today().isoformat()})

    @runs("supplier.block")
    def _block(self, op: ErpOperation) -> ErpResult:
        return self._hold(op, None)

    @runs("supplier.unblock")
    def _unblock(self, op: ErpOperation) -> ErpResult:
        return self._hold(op, dict(undone_data(op).get("previous") or {}))

    @runs("supplier.update_bank_account")
    def _update_bank_account(self, op: ErpOperation) -> ErpResult:
        p = op.params
        return self._bank_write(
            op, {"IBAN": p.get("iban"), "BankAccountName": p.get("account_holder")}
        )

    @runs("supplier.restore_bank_account")
    def _restore_bank_account(self, op: ErpOperation) -> ErpResult:
        return self._bank_write(op, dict(undone_data(op).get("previous") or {}))

    @runs(*PO_ACTIONS)
    def _po_action(self, op: ErpOperation) -> ErpResult:
        action, body = PO_ACTIONS[op.operation]
        _check(f"purchaseOrders/action/{action}", body, creating=True)
        key = self._po_key(_id(op.canonical_id, "PurchaseOrder"))
        if key is None:
            raise ErpOperationFailed(f"Oracle: {op.canonical_id} does not exist")
        answer = self._write("POST", f"purchaseOrders/{key}/action/{action}", op, body, ACTION_TYPE)
        return self._result(op.idempotency_key, op.operation, answer, {})

    @runs("purchase_order.update_delivery_date")
    def _update_delivery_date(self, op: ErpOperation) -> ErpResult:
        date_ = str(op.params.get("delivery_date"))
        return self._reschedule(op, lambda _label: date_)

    @runs("purchase_order.restore_delivery_date")
    def _restore_delivery_date(self, op: ErpOperation) -> ErpResult:
        before = dict(undone_data(op).get("previous") or {})
        return self._reschedule(
            op, lambda label: (before.get(label) or {}).get("RequestedDeliveryDate")
        )

    @runs("supplier.attach_document")
    def _attach_document(self, op: ErpOperation) -> ErpResult:
        supplier = self._supplier_child(op)
        body = {
            "DatatypeCode": "WEB_PAGE",
            "URL": str(op.params.get("document") or ""),
            "Title": "Supplier registration document",
            "CategoryName": "MISC",
        }
        _check("suppliers/attachments", body, creating=True)
        answer = self._write("POST", f"{supplier}/attachments", op, body)
        return self._result(op.idempotency_key, op.operation, answer, {})

    @runs("supplier.detach_document")
    def _detach_document(self, op: ErpOperation) -> ErpResult:
        path = f"{self._supplier_child(op)}/attachments/{undone_data(op).get('document_id')}"
        return self._result(op.idempotency_key, op.operation, self._write("DELETE", path, op), {})

    @runs("supplier.start_approval_routing")
    def _start_approval_routing(self, op: ErpOperation) -> ErpResult:
        answer = self._write("POST", f"{self._supplier_child(op)}/approvalRequests", op, {})
        return self._result(op.idempotency_key, op.operation, answer, {})

    @runs("supplier.cancel_approval_routing")
    def _cancel_approval_routing(self, op: ErpOperation) -> ErpResult:
        routing = undone_data(op).get("routing_id")
        path = f"{self._supplier_child(op)}/approvalRequests/{routing}"
        return self._result(op.idempotency_key, op.operation, self._write("DELETE", path, op), {})

    @staticmethod
    def _supplier_child(op: ErpOperation) -> str:
        """The path of the target supplier's children (`suppliers/{id}/child`)."""
        return f"suppliers/{_id(op.canonical_id, 'Supplier')}/child"

    def lookup(self, idempotency_key: str) -> ErpResult | None:
        if self.lookup_service is None:
            probe = self.http.send("GET", f"{ROOT}/canonOperations", missing_ok=True)
            self.lookup_service = probe is not None
        if not self.lookup_service:
            raise ErpLookupMissing("Oracle: the canonOperations extension is not installed")
        found = self._get(f"canonOperations/{idempotency_key}")
        if found is None:
            return None
        extra = {"previous": found["previous"]} if found.get("previous") else {}
        return self._result(idempotency_key, str(found["operation"]), found["response"], extra)

    def evidence(self, operation: ErpOperation) -> ErpResult | None:
        """Whether `operation` happened, from `suppliers` and `purchaseOrders` (see EVIDENCE);
        others: undecided."""
        if operation.operation == "purchase_order.approve":
            item = self._po(_id(operation.canonical_id, "PurchaseOrder"))
            if item is None:
                raise ErpUndecided(f"Oracle: {operation.canonical_id} does not exist")
            if item["Status"] == PENDING:
                return None
            if item["Status"] == "REJECTED":
                raise ErpUndecided(f"Oracle: {operation.canonical_id} was rejected meanwhile")
            said = {"evidence": EVIDENCE["purchase_order.approve"]}
            return result(operation.idempotency_key, operation.operation, None, said)
        if operation.operation in (
            "purchase_order.update_delivery_date",
            "purchase_order.restore_delivery_date",
        ):
            return self._dates_evidence(operation)
        if operation.operation in SUPPLIER_EVIDENCE:
            return self._supplier_evidence(operation)
        if operation.operation in ("supplier.attach_document", "supplier.detach_document"):
            return self._attachment_evidence(operation)
        if operation.operation in ("purchase_order.close", "purchase_order.reopen"):
            item = self._po(_id(operation.canonical_id, "PurchaseOrder"))
            if item is None:
                raise ErpUndecided(f"Oracle: {operation.canonical_id} does not exist")
            closed = item["Status"] == "CLOSED"
            if operation.operation.endswith("reopen"):
                said = {"evidence": EVIDENCE[operation.operation]}
                name = operation.operation
                return None if closed else result(operation.idempotency_key, name, None, said)
            if not closed:
                return None
            raise ErpUndecided(
                f"Oracle: {operation.canonical_id} is closed: by {operation.operation} "
                f"({operation.idempotency_key}) or before it, which the order cannot tell (a "
                "compensation would reopen it); check its history before going on"
            )
        if operation.operation != "supplier.create_record":
            raise ErpUndecided(
                f"Oracle: {operation.operation} ({operation.idempotency_key}) is not read back "
                f"from standard resources yet; check {operation.canonical_id} before running it "
                "again"
            )
        tax = digits(operation.params.get("tax_id"))
        body = self._get("suppliers", {"q": f"TaxpayerId='{tax}'", "limit": "10"})
        items = [i for i in (body or {}).get("items", []) if i.get("InactiveDate") is None]
        if not items:
            return None
        if len(items) > 1:
            raise ErpUndecided(f"Oracle: {len(items)} active suppliers hold taxpayer id {tax}")
        return result(
            operation.idempotency_key,
            operation.operation,
            f"Supplier:{items[0]['SupplierId']}",
            {"evidence": EVIDENCE["supplier.create_record"]},
        )

    def _supplier_evidence(self, op: ErpOperation) -> ErpResult | None:
        """A PATCH of a supplier, its site or its bank account is all or nothing: the fields
        tell whether it ran. What a hold or an account change replaced cannot be read back."""
        name, p = op.operation, op.params
        undone: dict[str, Any] = dict(p.get("result") or {}).get("data") or {}
        before = dict(undone.get("previous") or {})
        said = {"evidence": EVIDENCE[name]}
        supplier_id = _id(op.canonical_id, "Supplier")
        if name == "supplier.delete_record":
            item = self._get(f"suppliers/{supplier_id}")
            if item is None:
                raise ErpUndecided(f"Oracle: {op.canonical_id} does not exist")
            if item.get("InactiveDate") is None:
                return None
            return result(op.idempotency_key, name, None, {"previous": {}, **said})
        current: dict[str, dict[str, Any]]
        if name in ("supplier.block", "supplier.unblock"):
            current = {str(s["SupplierSiteId"]): s for s in self._sites(supplier_id)}
            wanted = (
                {label: {HOLD: True} for label in current} if name == "supplier.block" else before
            )
        else:
            supplier = self._get(f"suppliers/{supplier_id}")
            bank = self._bank(supplier) if supplier is not None else None
            current = {"": bank or {}}
            wanted = {
                "": {"IBAN": p.get("iban"), "BankAccountName": p.get("account_holder")}
                if name == "supplier.update_bank_account"
                else before
            }
        holds = bool(current) and all(
            all((current.get(label) or {}).get(k) == v for k, v in fields.items())
            for label, fields in wanted.items()
        )
        if name in ("supplier.unblock", "supplier.restore_bank_account"):
            return (
                result(op.idempotency_key, name, None, {"previous": {}, **said}) if holds else None
            )
        if not holds:
            return None
        raise ErpUndecided(
            f"Oracle: {op.canonical_id} already holds what {name} ({op.idempotency_key}) "
            "writes: it may have run, and what it replaced cannot be read back; check the "
            "supplier before going on"
        )

    def _attachment_evidence(self, op: ErpOperation) -> ErpResult | None:
        """An attachment is there (with the URL linked) or gone: the supplier's `attachments`."""
        name = op.operation
        path = f"suppliers/{_id(op.canonical_id, 'Supplier')}/child/attachments"
        body = self._get(path)
        if body is None:
            raise ErpUndecided(f"Oracle: {op.canonical_id} does not exist")
        items = list(body.get("items") or [])
        said = {"evidence": EVIDENCE[name]}
        if name == "supplier.detach_document":
            undone: dict[str, Any] = dict(op.params.get("result") or {}).get("data") or {}
            wanted = str(undone.get("document_id"))
            there = any(str(i.get("AttachedDocumentId")) == wanted for i in items)
            return None if there else result(op.idempotency_key, name, None, said)
        url = str(op.params.get("document") or "")
        found = [i for i in items if i.get("URL") == url]
        if not found:
            return None
        if len(found) > 1:
            raise ErpUndecided(f"Oracle: {op.canonical_id} has {len(found)} attachments of {url}")
        data = {"document_id": found[0]["AttachedDocumentId"], **said}
        return result(op.idempotency_key, name, None, data)

    def _dates_evidence(self, op: ErpOperation) -> ErpResult | None:
        """A date change is in force once submitted: the schedules of `purchaseOrders` tell.
        A change order opened but not submitted is not in force; sending again completes it."""
        order = self._po(_id(op.canonical_id, "PurchaseOrder"), SCHEDULES)
        if order is None:
            raise ErpUndecided(f"Oracle: {op.canonical_id} does not exist")
        in_force = _schedules(order)
        said = {"evidence": EVIDENCE[op.operation]}
        if op.operation == "purchase_order.restore_delivery_date":
            undone: dict[str, Any] = dict(op.params.get("result") or {}).get("data") or {}
            before = dict(undone.get("previous") or {})
            restored = all(
                label in in_force and in_force[label].get(DATE) == (dates or {}).get(DATE)
                for label, dates in before.items()
            )
            if not restored:
                return None
            return result(op.idempotency_key, op.operation, None, {"previous": {}, **said})
        wanted = str(op.params.get("delivery_date"))
        if not any(schedule.get(DATE) == wanted for schedule in in_force.values()):
            return None
        raise ErpUndecided(
            f"Oracle: some schedules of {op.canonical_id} already hold {wanted}: {op.operation} "
            f"({op.idempotency_key}) may have run, and the dates it replaced cannot be read back; "
            "check the order's change history before going on"
        )

    @staticmethod
    def _result(key: str, operation: str, body: Any, extra: dict[str, Any]) -> ErpResult:
        """What a write answered, the same whether read live or from the operation log."""
        answer = body if isinstance(body, dict) else {}
        data = dict(extra)
        supplier = "SupplierNumber" in answer  # a supplier item (purchase orders name one too)
        canonical_id = f"Supplier:{answer['SupplierId']}" if supplier else None
        if "AttachedDocumentId" in answer:
            data["document_id"] = answer["AttachedDocumentId"]
        if "ApprovalRequestId" in answer:
            data["routing_id"] = answer["ApprovalRequestId"]
        return result(key, operation, canonical_id, data)
