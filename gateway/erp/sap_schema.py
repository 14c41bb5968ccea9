"""The SAP OData v2 entity types Canon and the sandbox use, as SAP's published `$metadata` has them.

Written down from the EDMX files (the property names, their EDM types, and whether
`sap:creatable` / `sap:updatable` say "false"); no EDMX file is vendored:

- `API_BUSINESS_PARTNER`: SAP-samples/cloud-cap-risk-management (Apache-2.0), commit c32ad055,
  `templates/ext-service-add-consumption/srv/external/API_BUSINESS_PARTNER.edmx`.
- `API_PURCHASEORDER_PROCESS_SRV`: the service's `$metadata` as published on the SAP Business
  Accelerator Hub (OP_API_PURCHASEORDER_PROCESS_SRV_0001), read from the copy in
  krisho007/c_cpe_13_certification `srv/external/API_PURCHASEORDER_PROCESS_SRV.edmx`.

What follows from them, and what Canon relies on:

- `A_PurchaseOrder` has no net amount, delivery date or completion flag: the delivery date is
  `A_PurchaseOrderScheduleLine.ScheduleLineDeliveryDate` (key PurchasingDocument,
  PurchasingDocumentItem, ScheduleLine), completion is `A_PurchaseOrderItem.IsCompletelyDelivered`,
  and an item's value is `OrderQuantity * NetPriceAmount / NetPriceQuantity`.
- `A_PurchaseOrder.PurchasingProcessingStatus` is not updatable: a release (approval) is not a
  PATCH of the standard API.
- `BusinessPartnerIsBlocked` is the central block; `A_Supplier.PurchasingIsBlocked` and
  `PostingIsBlocked` are the supplier's purchasing and posting blocks.

`check(entity_set, body, creating=...)` is what the sandbox's SAP face answers 400 with and what
the connector checks before it sends a write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Property:
    """One property: its EDM type (without `Edm.`) and whether it may be created or updated."""

    type: str
    creatable: bool
    updatable: bool


@dataclass(frozen=True)
class EntityType:
    """An entity type of a service: its key, properties and navigation properties."""

    service: str
    keys: tuple[str, ...]
    properties: dict[str, Property]
    navigation: tuple[str, ...]


def _entity(
    service: str, keys: tuple[str, ...], text: str, navigation: tuple[str, ...]
) -> EntityType:
    properties = {}
    for word in text.split():
        name, kind, flags = word.split(":")
        properties[name] = Property(kind, "c" in flags, "u" in flags)
    return EntityType(service, keys, properties, navigation)


#: Entity sets by name (each set `X` holds entities of type `XType`).
ENTITY_SETS: dict[str, EntityType] = {
    "A_BusinessPartner": _entity(
        "API_BUSINESS_PARTNER",
        ("BusinessPartner",),
        """
        BusinessPartner:String:cu Customer:String:- Supplier:String:- AcademicTitle:String:cu
        AuthorizationGroup:String:cu BusinessPartnerCategory:String:cu
        BusinessPartnerFullName:String:- BusinessPartnerGrouping:String:cu
        BusinessPartnerName:String:- BusinessPartnerUUID:Guid:-
        CorrespondenceLanguage:String:cu CreatedByUser:String:- CreationDate:DateTime:-
        CreationTime:Time:- FirstName:String:cu FormOfAddress:String:cu Industry:String:cu
        InternationalLocationNumber1:String:cu InternationalLocationNumber2:String:cu
        IsFemale:Boolean:cu IsMale:Boolean:cu IsNaturalPerson:String:cu
        IsSexUnknown:Boolean:cu GenderCodeName:String:cu Language:String:cu
        LastChangeDate:DateTime:- LastChangeTime:Time:- LastChangedByUser:String:-
        LastName:String:cu LegalForm:String:cu OrganizationBPName1:String:cu
        OrganizationBPName2:String:cu OrganizationBPName3:String:cu
        OrganizationBPName4:String:cu OrganizationFoundationDate:DateTime:cu
        OrganizationLiquidationDate:DateTime:cu SearchTerm1:String:cu SearchTerm2:String:cu
        AdditionalLastName:String:cu BirthDate:DateTime:cu
        BusinessPartnerBirthDateStatus:String:cu BusinessPartnerBirthplaceName:String:cu
        BusinessPartnerDeathDate:DateTime:cu BusinessPartnerIsBlocked:Boolean:cu
        BusinessPartnerType:String:cu ETag:String:- GroupBusinessPartnerName1:String:cu
        GroupBusinessPartnerName2:String:cu IndependentAddressID:String:-
        InternationalLocationNumber3:String:cu MiddleName:String:cu NameCountry:String:cu
        NameFormat:String:cu PersonFullName:String:cu PersonNumber:String:-
        IsMarkedForArchiving:Boolean:cu BusinessPartnerIDByExtSystem:String:cu
        TradingPartner:String:cu
        """,
        (
            "to_BuPaIdentification",
            "to_BuPaIndustry",
            "to_BusinessPartnerAddress",
            "to_BusinessPartnerBank",
            "to_BusinessPartnerContact",
            "to_BusinessPartnerRole",
            "to_BusinessPartnerTax",
            "to_Customer",
            "to_Supplier",
        ),
    ),
    "A_BusinessPartnerAddress": _entity(
        "API_BUSINESS_PARTNER",
        ("BusinessPartner", "AddressID"),
        """
        BusinessPartner:String:cu AddressID:String:cu ValidityStartDate:DateTimeOffset:cu
        ValidityEndDate:DateTimeOffset:cu AuthorizationGroup:String:cu AddressUUID:Guid:-
        AdditionalStreetPrefixName:String:cu AdditionalStreetSuffixName:String:cu
        AddressTimeZone:String:cu CareOfName:String:cu CityCode:String:cu CityName:String:cu
        CompanyPostalCode:String:cu Country:String:cu County:String:cu
        DeliveryServiceNumber:String:cu DeliveryServiceTypeCode:String:cu District:String:cu
        FormOfAddress:String:- FullName:String:- HomeCityName:String:cu HouseNumber:String:cu
        HouseNumberSupplementText:String:cu Language:String:cu POBox:String:cu
        POBoxDeviatingCityName:String:cu POBoxDeviatingCountry:String:cu
        POBoxDeviatingRegion:String:cu POBoxIsWithoutNumber:Boolean:cu
        POBoxLobbyName:String:cu POBoxPostalCode:String:cu Person:String:-
        PostalCode:String:cu PrfrdCommMediumType:String:cu Region:String:cu
        StreetName:String:cu StreetPrefixName:String:cu StreetSuffixName:String:cu
        TaxJurisdiction:String:cu TransportZone:String:cu AddressIDByExternalSystem:String:cu
        CountyCode:String:cu TownshipCode:String:cu TownshipName:String:cu
        """,
        (
            "to_AddressUsage",
            "to_EmailAddress",
            "to_FaxNumber",
            "to_MobilePhoneNumber",
            "to_PhoneNumber",
            "to_URLAddress",
        ),
    ),
    "A_BusinessPartnerTaxNumber": _entity(
        "API_BUSINESS_PARTNER",
        ("BusinessPartner", "BPTaxType"),
        """
        BusinessPartner:String:cu BPTaxType:String:cu BPTaxNumber:String:cu
        BPTaxLongNumber:String:cu AuthorizationGroup:String:cu
        """,
        (),
    ),
    "A_BusinessPartnerRole": _entity(
        "API_BUSINESS_PARTNER",
        ("BusinessPartner", "BusinessPartnerRole"),
        """
        BusinessPartner:String:cu BusinessPartnerRole:String:cu ValidFrom:DateTimeOffset:cu
        ValidTo:DateTimeOffset:cu AuthorizationGroup:String:cu
        """,
        (),
    ),
    "A_BusinessPartnerBank": _entity(
        "API_BUSINESS_PARTNER",
        ("BusinessPartner", "BankIdentification"),
        """
        BusinessPartner:String:cu BankIdentification:String:cu BankCountryKey:String:cu
        BankName:String:- BankNumber:String:cu SWIFTCode:String:- BankControlKey:String:cu
        BankAccountHolderName:String:cu BankAccountName:String:cu
        ValidityStartDate:DateTimeOffset:cu ValidityEndDate:DateTimeOffset:cu IBAN:String:cu
        IBANValidityStartDate:DateTime:cu BankAccount:String:cu
        BankAccountReferenceText:String:cu CollectionAuthInd:Boolean:cu CityName:String:-
        AuthorizationGroup:String:cu
        """,
        (),
    ),
    "A_Supplier": _entity(
        "API_BUSINESS_PARTNER",
        ("Supplier",),
        """
        Supplier:String:cu AlternativePayeeAccountNumber:String:cu
        AuthorizationGroup:String:cu CreatedByUser:String:- CreationDate:DateTime:-
        Customer:String:cu PaymentIsBlockedForSupplier:Boolean:cu PostingIsBlocked:Boolean:cu
        PurchasingIsBlocked:Boolean:cu SupplierAccountGroup:String:cu
        SupplierFullName:String:- SupplierName:String:- VATRegistration:String:cu
        BirthDate:DateTime:cu ConcatenatedInternationalLocNo:String:-
        DeletionIndicator:Boolean:cu FiscalAddress:String:cu Industry:String:-
        InternationalLocationNumber1:String:cu InternationalLocationNumber2:String:cu
        InternationalLocationNumber3:String:cu IsNaturalPerson:String:cu
        ResponsibleType:String:cu SuplrQltyInProcmtCertfnValidTo:DateTime:cu
        SuplrQualityManagementSystem:String:cu SupplierCorporateGroup:String:cu
        SupplierProcurementBlock:String:cu TaxNumber1:String:- TaxNumber2:String:-
        TaxNumber3:String:- TaxNumber4:String:- TaxNumber5:String:-
        TaxNumberResponsible:String:cu TaxNumberType:String:cu
        SuplrProofOfDelivRlvtCode:String:cu BR_TaxIsSplit:Boolean:cu
        """,
        ("to_SupplierCompany", "to_SupplierPurchasingOrg", "to_SupplierText"),
    ),
    "A_AddressEmailAddress": _entity(
        "API_BUSINESS_PARTNER",
        ("AddressID", "Person", "OrdinalNumber"),
        """
        AddressID:String:cu Person:String:cu OrdinalNumber:String:cu
        IsDefaultEmailAddress:Boolean:cu EmailAddress:String:cu SearchEmailAddress:String:cu
        AddressCommunicationRemarkText:String:cu
        """,
        (),
    ),
    "A_AddressPhoneNumber": _entity(
        "API_BUSINESS_PARTNER",
        ("AddressID", "Person", "OrdinalNumber"),
        """
        AddressID:String:cu Person:String:cu OrdinalNumber:String:cu
        DestinationLocationCountry:String:cu IsDefaultPhoneNumber:Boolean:cu
        PhoneNumber:String:cu PhoneNumberExtension:String:cu
        InternationalPhoneNumber:String:cu PhoneNumberType:String:cu
        AddressCommunicationRemarkText:String:cu
        """,
        (),
    ),
    "A_PurchaseOrder": _entity(
        "API_PURCHASEORDER_PROCESS_SRV",
        ("PurchaseOrder",),
        """
        PurchaseOrder:String:cu CompanyCode:String:cu PurchaseOrderType:String:cu
        PurchasingDocumentDeletionCode:String:- PurchasingProcessingStatus:String:-
        CreatedByUser:String:- CreationDate:DateTime:- LastChangeDateTime:DateTimeOffset:-
        Supplier:String:cu PurchaseOrderSubtype:String:- Language:String:cu
        PaymentTerms:String:cu CashDiscount1Days:Decimal:cu CashDiscount2Days:Decimal:cu
        NetPaymentDays:Decimal:cu CashDiscount1Percent:Decimal:cu
        CashDiscount2Percent:Decimal:cu PurchasingOrganization:String:cu
        PurchasingDocumentOrigin:String:- PurchasingGroup:String:cu
        PurchaseOrderDate:DateTime:cu DocumentCurrency:String:cu ExchangeRate:String:cu
        ExchangeRateIsFixed:Boolean:cu ValidityStartDate:DateTime:cu
        ValidityEndDate:DateTime:cu SupplierQuotationExternalID:String:cu
        SupplierRespSalesPersonName:String:cu SupplierPhoneNumber:String:cu
        SupplyingSupplier:String:cu SupplyingPlant:String:cu IncotermsClassification:String:cu
        CorrespncExternalReference:String:cu CorrespncInternalReference:String:cu
        InvoicingParty:String:cu ReleaseIsNotCompleted:Boolean:-
        PurchasingCompletenessStatus:Boolean:cu IncotermsVersion:String:cu
        IncotermsLocation1:String:cu IncotermsLocation2:String:cu
        ManualSupplierAddressID:String:- IsEndOfPurposeBlocked:String:-
        AddressCityName:String:cu AddressFaxNumber:String:cu AddressHouseNumber:String:cu
        AddressName:String:cu AddressPostalCode:String:cu AddressStreetName:String:cu
        AddressPhoneNumber:String:cu AddressRegion:String:cu AddressCountry:String:cu
        AddressCorrespondenceLanguage:String:cu PurgAggrgdProdCmplncSuplrSts:String:-
        PurgAggrgdProdMarketabilitySts:String:- PurgAggrgdSftyDataSheetStatus:String:-
        PurgProdCmplncTotDngrsGoodsSts:String:-
        """,
        ("to_PurchaseOrderItem", "to_PurchaseOrderNote"),
    ),
    "A_PurchaseOrderItem": _entity(
        "API_PURCHASEORDER_PROCESS_SRV",
        ("PurchaseOrder", "PurchaseOrderItem"),
        """
        PurchaseOrder:String:cu PurchaseOrderItem:String:cu
        PurchasingDocumentDeletionCode:String:- PurchaseOrderItemText:String:cu
        Plant:String:cu StorageLocation:String:cu MaterialGroup:String:cu
        PurchasingInfoRecord:String:cu SupplierMaterialNumber:String:cu
        OrderQuantity:Decimal:cu PurchaseOrderQuantityUnit:String:cu OrderPriceUnit:String:cu
        OrderPriceUnitToOrderUnitNmrtr:Decimal:cu OrdPriceUnitToOrderUnitDnmntr:Decimal:cu
        DocumentCurrency:String:- NetPriceAmount:Decimal:cu NetPriceQuantity:Decimal:cu
        TaxCode:String:cu ShippingInstruction:String:cu TaxDeterminationDate:DateTime:cu
        TaxCountry:String:cu PriceIsToBePrinted:Boolean:cu
        OverdelivTolrtdLmtRatioInPct:Decimal:cu UnlimitedOverdeliveryIsAllowed:Boolean:cu
        UnderdelivTolrtdLmtRatioInPct:Decimal:cu ValuationType:String:cu
        IsCompletelyDelivered:Boolean:cu IsFinallyInvoiced:Boolean:cu
        PurchaseOrderItemCategory:String:cu AccountAssignmentCategory:String:cu
        MultipleAcctAssgmtDistribution:String:cu PartialInvoiceDistribution:String:cu
        GoodsReceiptIsExpected:Boolean:cu GoodsReceiptIsNonValuated:Boolean:cu
        InvoiceIsExpected:Boolean:cu InvoiceIsGoodsReceiptBased:Boolean:cu
        PurchaseContract:String:cu PurchaseContractItem:String:cu Customer:String:cu
        Subcontractor:String:cu SupplierIsSubcontractor:Boolean:cu ItemNetWeight:Decimal:cu
        ItemWeightUnit:String:cu TaxJurisdiction:String:cu PricingDateControl:String:cu
        ItemVolume:Decimal:cu ItemVolumeUnit:String:cu
        SupplierConfirmationControlKey:String:cu IncotermsClassification:String:cu
        IncotermsTransferLocation:String:cu EvaldRcptSettlmtIsAllowed:Boolean:cu
        PurchaseRequisition:String:cu PurchaseRequisitionItem:String:cu
        IsReturnsItem:Boolean:cu RequisitionerName:String:cu ServicePackage:String:cu
        EarmarkedFunds:String:cu EarmarkedFundsDocument:String:cu EarmarkedFundsItem:String:cu
        EarmarkedFundsDocumentItem:String:cu IncotermsLocation1:String:cu
        IncotermsLocation2:String:cu Material:String:cu InternationalArticleNumber:String:cu
        ManufacturerMaterial:String:cu ServicePerformer:String:cu ProductType:String:cu
        ExpectedOverallLimitAmount:Decimal:cu OverallLimitAmount:Decimal:cu
        PurContractForOverallLimit:String:cu PurchasingParentItem:String:cu
        PurgConfigurableItemNumber:String:cu PurgDocAggrgdSubitemCategory:String:cu
        PurgDocSubitemCategory:String:cu PurgExternalSortNumber:String:cu
        ReferenceDeliveryAddressID:String:cu DeliveryAddressID:String:-
        DeliveryAddressName:String:cu DeliveryAddressName2:String:cu
        DeliveryAddressFullName:String:- DeliveryAddressStreetName:String:cu
        DeliveryAddressHouseNumber:String:cu DeliveryAddressCityName:String:cu
        DeliveryAddressPostalCode:String:cu DeliveryAddressRegion:String:cu
        DeliveryAddressCountry:String:cu DeliveryAddressDistrictName:String:cu
        DownPaymentType:String:cu DownPaymentPercentageOfTotAmt:Decimal:cu
        DownPaymentAmount:Decimal:cu DownPaymentDueDate:DateTime:cu BR_MaterialUsage:String:cu
        BR_MaterialOrigin:String:cu BR_CFOPCategory:String:cu BR_IsProducedInHouse:Boolean:cu
        ConsumptionTaxCtrlCode:String:cu PurgProdCmplncSupplierStatus:String:-
        PurgProductMarketabilityStatus:String:- PurgSafetyDataSheetStatus:String:-
        PurgProdCmplncDngrsGoodsStatus:String:-
        """,
        (
            "to_PurchaseOrder",
            "to_AccountAssignment",
            "to_PurchaseOrderItemNote",
            "to_PurchaseOrderPricingElement",
            "to_ScheduleLine",
        ),
    ),
    "A_PurchaseOrderScheduleLine": _entity(
        "API_PURCHASEORDER_PROCESS_SRV",
        ("PurchasingDocument", "PurchasingDocumentItem", "ScheduleLine"),
        """
        PurchasingDocument:String:cu PurchasingDocumentItem:String:cu ScheduleLine:String:cu
        DelivDateCategory:String:cu ScheduleLineDeliveryDate:DateTime:cu
        PurchaseOrderQuantityUnit:String:- ScheduleLineOrderQuantity:Decimal:cu
        ScheduleLineDeliveryTime:Time:cu SchedLineStscDeliveryDate:DateTime:cu
        PurchaseRequisition:String:cu PurchaseRequisitionItem:String:cu
        ScheduleLineCommittedQuantity:Decimal:cu PerformancePeriodStartDate:DateTime:cu
        PerformancePeriodEndDate:DateTime:cu
        """,
        ("to_SubcontractingComponent",),
    ),
}


class MetadataError(ValueError):
    """A request body that the service's metadata does not allow."""


def check(entity_set: str, body: dict[str, Any], *, creating: bool) -> None:
    """Refuse a body with a property the entity type lacks or that may not be written.

    On update (PATCH) a key property or one marked `sap:updatable="false"` is refused; on create
    one marked `sap:creatable="false"`. Navigation properties are allowed on create (deep insert)
    and are checked no further here.
    """
    entity = ENTITY_SETS[entity_set]
    for name in body:
        if name == "__metadata":
            continue
        if name in entity.navigation:
            if not creating:
                raise MetadataError(f"{name}: a navigation property cannot be changed by PATCH")
            continue
        prop = entity.properties.get(name)
        if prop is None:
            raise MetadataError(f"{name}: the property does not exist on {entity_set}Type")
        if not creating and (name in entity.keys or not prop.updatable):
            raise MetadataError(f"{name}: the property is not updatable on {entity_set}Type")
        if creating and not prop.creatable:
            raise MetadataError(f"{name}: the property is not creatable on {entity_set}Type")
