"""The Oracle Fusion Cloud REST resources Canon and the sandbox write, as Oracle documents them.

Oracle publishes no machine-readable metadata Canon could vendor (each resource's `describe` is
per pod, behind authentication), so what follows is written down by hand from the published REST
references on docs.oracle.com: per resource, the attributes Canon sends or reads, and whether
each may be given on create (POST) or changed by update (PATCH). Attributes Canon only reads
are marked read-only here; Canon never writes them, and the check refuses them. Sources, and
where the pages read did not confirm an attribute:

- `suppliers` (Procurement, fapra): "Update one supplier",
  https://docs.oracle.com/en/cloud/saas/procurement/24c/fapra/op-suppliers-supplierid-patch.html
  and "Get all suppliers" (.../op-suppliers-get.html). The minimal create is
  `Supplier`, `TaxOrganizationTypeCode` (lookup POZ_ORGANIZATION_TYPE),
  `BusinessRelationshipCode` (ORA_POZ_BUSINESS_RELATIONSHIP), as in CData's reading of the same
  resource (cdn.cdata.com/help/KEK, "Suppliers"). `InactiveDate` is how a supplier is made
  inactive. A supplier has no hold and no bank attribute: `HoldFlag`, `IBAN`,
  `BankAccountHolderName` are unknown here (issue 21).
- `suppliers/{id}/child/addresses`: "Create one address",
  https://docs.oracle.com/en/cloud/saas/procurement/26b/fapra/op-suppliers-supplierid-child-addresses-post.html
  (`CountryCode` is required on create). `Email` and `PhoneNumber` as address attributes were
  not read on that page (the excerpt stops before them).
- `suppliers/{id}/child/sites`: "Update one site",
  https://docs.oracle.com/en/cloud/saas/procurement/23d/fapra/op-suppliers-supplierid-child-sites-suppliersiteid-patch.html
  The PATCH schema has the purchasing hold (`AllNewPurchasingDocumentsHoldDate` read on the
  page); `HoldAllNewPurchasingDocumentsFlag` and `PurchasingHoldReason` as writable are
  confirmed by public client code written against this resource, not read on the page itself.
- `suppliers/{id}/child/attachments`: "Create one attachment" (fapra, op-suppliers-supplierid-
  child-attachments-post.html): `DatatypeCode` (default FILE), `CategoryName`, `Title`,
  `Description`, `AttachedDocumentId`. Not confirmed: the name of the web-page URL attribute
  (Canon sends `URL`; Oracle's attachment resources may spell it `Url`; the page excerpt read
  stops before it).
- `externalBankAccounts` (Financials, farfa): "Update an external bank account",
  https://docs.oracle.com/en/cloud/saas/financials/24c/farfa/op-externalbankaccounts-bankaccountid-patch.html
  and "Create an external bank account" (24d, op-externalbankaccounts-post.html); `IBAN`,
  `BankAccountName`, `CountryCode`, `CurrencyCode` and `accountOwners` (with
  `AccountOwnerPartyIdentifier`) as in the example answer of "Retrieve Party's Bank Account
  Information" (docs.oracle.com/en/cloud/saas/human-resources/farws). That `IBAN` and
  `BankAccountName` are in the PATCH schema was not read (the excerpt stops at `Allow...`);
  that `CountryCode` is create-only is this module's assumption.
- `draftPurchaseOrders` (fapra): "Update one header",
  https://docs.oracle.com/en/cloud/saas/procurement/24c/fapra/op-draftpurchaseorders-draftpurchaseordersuniqid-patch.html
  `ChangeOrderInitiatingParty` and `ChangeOrderDescription` as the attributes that open a change
  order are from Oracle's change-order use cases and B2B acknowledgment mapping (facmm, "Item
  Hold"), not read in the PATCH schema itself. `lines` (read only by Canon) and
  `lines/{POLineId}/child/schedules`: "Update one schedule",
  https://docs.oracle.com/en/cloud/saas/procurement/25d/fapra/op-draftpurchaseorders-draftpurchaseordersuniqid-child-lines-polineid-child-schedules-schedulesuniqid-patch.html
  (`RequestedDeliveryDate`, `Quantity`; the page was read up to its path parameters only).
- Actions (`application/vnd.oracle.adf.action+json` payloads):
  `purchaseOrders/{key}/action/close` "Close one purchase order" (25c,
  op-purchaseorders-purchaseordersuniqid-action-close-post.html): `closeAction` (required:
  closeForReceiving, closeForInvoicing, close, finallyClose) and `closeReason`, as the line's
  close action documents them; `purchaseOrders/{key}/action/submit` "Resubmit one purchase order
  for approval" (24c): `bypassApprovalsFlag`; `draftPurchaseOrders/{key}/action/submit` "Submit
  one draft purchase order" (25c): `bypassApprovalsFlag` is Canon's reading (the page read does
  not show the payload); `purchaseOrders/{key}/action/reopen` "Reopen one purchase order" (25d)
  describes reopen actions (reopen for receiving, for invoicing, reopen, reopen finally closed)
  whose payload attribute was not read: Canon sends an empty payload, and nothing else is
  allowed here.
- `serviceRequests` (Oracle Fusion Service, faaps): "Get a service request",
  https://docs.oracle.com/en/cloud/saas/sales/faaps/op-servicerequests-srnumber-get.html and
  the resource's "view, create, update, and delete service requests". `Title`, `StatusCd`,
  `SeverityCd` as writable and `StatusTypeCd` as derived from `StatusCd` are not confirmed by a
  PATCH schema read.

`check(resource, body, creating=...)` is what the sandbox's Oracle face answers 400 with and what
the connector checks every write against before it sends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Attribute:
    """One attribute: whether it may be given on create and changed on update."""

    creatable: bool
    updatable: bool


@dataclass(frozen=True)
class Resource:
    """A REST resource (or an action's payload): its attributes, the ones a create must give,
    and its child resources (which a create may nest, and an update may not)."""

    title: str
    attributes: dict[str, Attribute]
    required: tuple[str, ...] = ()
    children: tuple[str, ...] = ()


def _resource(
    title: str, text: str, required: tuple[str, ...] = (), children: tuple[str, ...] = ()
) -> Resource:
    """`text`: `Name:flags` words, flags `c` (creatable), `u` (updatable) or `-` (read-only)."""
    attributes = {}
    for word in text.split():
        name, flags = word.split(":")
        attributes[name] = Attribute("c" in flags, "u" in flags)
    return Resource(title, attributes, required, children)


#: Resources by path, children as `parent/child`, actions as `resource/action/name`.
RESOURCES: dict[str, Resource] = {
    "suppliers": _resource(
        "Suppliers",
        """
        SupplierId:- SupplierPartyId:- SupplierNumber:- Supplier:cu AlternateName:cu
        TaxOrganizationTypeCode:cu BusinessRelationshipCode:cu TaxpayerId:cu InactiveDate:cu
        """,
        required=("Supplier",),
        children=("addresses", "sites", "attachments"),
    ),
    "suppliers/addresses": _resource(
        "Suppliers/Addresses",
        """
        SupplierAddressId:- AddressName:cu AddressLine1:cu City:cu State:cu PostalCode:cu
        Country:- CountryCode:c Email:cu PhoneNumber:cu
        """,
        required=("CountryCode",),
    ),
    "suppliers/sites": _resource(
        "Suppliers/Sites",
        """
        SupplierSiteId:- SupplierSite:c ProcurementBU:c HoldAllNewPurchasingDocumentsFlag:cu
        PurchasingHoldReason:cu AllNewPurchasingDocumentsHoldDate:- InactiveDate:cu
        """,
    ),
    "suppliers/attachments": _resource(
        "Suppliers/Attachments",
        """
        AttachedDocumentId:- DatatypeCode:c URL:c Title:cu Description:cu CategoryName:c
        """,
    ),
    "externalBankAccounts": _resource(
        "External Bank Accounts",
        """
        BankAccountId:- CountryCode:c CurrencyCode:cu IBAN:cu BankAccountName:cu
        """,
        children=("accountOwners",),
    ),
    "externalBankAccounts/accountOwners": _resource(
        "External Bank Accounts/Account Owners",
        "AccountOwnerId:- AccountOwnerPartyIdentifier:c",
    ),
    "draftPurchaseOrders": _resource(
        "Draft Purchase Orders",
        """
        POHeaderId:- OrderNumber:- Status:- ChangeOrderInitiatingParty:cu
        ChangeOrderDescription:cu ChangeOrderStatus:-
        """,
        children=("lines",),
    ),
    "draftPurchaseOrders/lines": _resource(
        "Draft Purchase Orders/Lines",
        "POLineId:- LineNumber:- Item:- Quantity:- Price:- Amount:-",
    ),
    "draftPurchaseOrders/lines/schedules": _resource(
        "Draft Purchase Orders/Lines/Schedules",
        """
        LineLocationId:- ScheduleNumber:- POLineId:- LineNumber:- Quantity:cu
        RequestedDeliveryDate:cu
        """,
    ),
    "purchaseOrders/action/close": _resource(
        "Close one purchase order", "closeAction:c closeReason:c", required=("closeAction",)
    ),
    "purchaseOrders/action/submit": _resource(
        "Resubmit one purchase order for approval", "bypassApprovalsFlag:c"
    ),
    "purchaseOrders/action/reopen": _resource("Reopen one purchase order", ""),
    "draftPurchaseOrders/action/submit": _resource(
        "Submit one draft purchase order", "bypassApprovalsFlag:c"
    ),
    "serviceRequests": _resource(
        "Service Requests",
        "SrId:- SrNumber:- Title:cu StatusCd:cu StatusTypeCd:- SeverityCd:cu",
    ),
}

#: The values `closeAction` takes (the close action's reference).
CLOSE_ACTIONS = ("closeForReceiving", "closeForInvoicing", "close", "finallyClose")


class MetadataError(ValueError):
    """A request body that the resource, as the reference describes it, does not allow."""


def check(resource: str, body: dict[str, Any], *, creating: bool) -> None:
    """Refuse a body with an attribute the resource lacks or that may not be written.

    On update (PATCH) an attribute that is not updatable, or a child resource, is refused; on
    create (POST, and an action's payload) one that is not creatable, and a required one missing.
    Child resources nested in a create are checked as creates of the child.
    """
    spec = RESOURCES[resource]
    for name, value in body.items():
        if name in spec.children:
            if not creating:
                raise MetadataError(f"{name}: a child resource cannot be changed by PATCH")
            for item in value if isinstance(value, list) else [value]:
                if not isinstance(item, dict):
                    raise MetadataError(f"{name}: each item is an object")
                try:
                    check(f"{resource}/{name}", item, creating=True)
                except MetadataError as e:
                    raise MetadataError(f"{name}: {e}") from e
            continue
        attribute = spec.attributes.get(name)
        if attribute is None:
            raise MetadataError(f"{name}: the attribute does not exist on {spec.title}")
        if not creating and not attribute.updatable:
            raise MetadataError(f"{name}: the attribute is not updatable on {spec.title}")
        if creating and not attribute.creatable:
            raise MetadataError(f"{name}: the attribute is not creatable on {spec.title}")
    if creating:
        for name in spec.required:
            if body.get(name) in (None, ""):
                raise MetadataError(f"{name}: the attribute is required on {spec.title}")
    if resource == "purchaseOrders/action/close" and body["closeAction"] not in CLOSE_ACTIONS:
        raise MetadataError(f"closeAction: one of {', '.join(CLOSE_ACTIONS)}")
