"""`ProtheusConnector`: TOTVS Protheus over REST (`/rest`), JSON in Protheus field names.

Suppliers are SA2 rows (`SA2:{A2_FILIAL}:{A2_COD}:{A2_LOJA}`), purchase orders SC7 headers
(`SC7:{C7_FILIAL}:{C7_NUM}`); a record's URL carries its primary key as the custom service
expects it: URL-safe base64, unpadded, of the key fields at their widths (the filial's width is
the installation's, `filial_width`: 2 by default, often 8). That is not FWMODEL's encoding
(standard padded base64 in an FWMODEL envelope): see docs/ERP.md. Auth is HTTP basic or the OAuth2
password grant against `/rest/api/oauth2/v1/token` (the token is fetched on first use and
again on a 401).
A supplier's bank account is in the SA2 fields the installation keeps (`bank_fields`: the
standard `A2_BANCO`, `A2_AGENCIA`, `A2_NUMCON` unless it declares others, such as custom
`A2_XIBAN`/`A2_XTITULA`).
Writes: `POST/PUT/DELETE` under `/rest/api/canon/v1` (the integration's TLPP endpoints; writes of
purchase orders are MATA120 operation 4), each with an `Idempotency-Key`; a lost answer is read
back from `GET /rest/api/canon/v1/operations/{key}`.

Transactions are CT2 accounting entry lines (`CT2:{FILIAL}:{DATA}:{LOTE}:{SBLOTE}:{DOC}:{LINHA}`),
reclassified through CTBA102 by the same custom service.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Generator, Iterator, Mapping
from typing import Any, Literal, Protocol

import httpx

from gateway.erp.base import ChangePage, ErpOperation, ErpRecord, ErpResult
from gateway.erp.http import (
    HttpErp,
    Request,
    RequestRunner,
    digits,
    pages,
    record,
    result,
    unsupported,
)
from gateway.erp.operations import runs, undone_data
from gateway.erp.protheus_keys import FILIAL_WIDTH, pk_encode
from gateway.erp.protheus_keys import KEY_WIDTHS as KEY_WIDTHS  # the key form, public here too
from gateway.erp.protheus_keys import key_widths as key_widths
from gateway.erp.protheus_keys import pk_decode as pk_decode
from gateway.erp.registry import ErpSettings, access, register
from gateway.erp.sources import Source, declared_source, shipped_profile, source_fields
from gateway.errors import ErpLookupMissing, ErpOperationFailed, ErpUndecided
from resolver.profiles import Profile

API = "/rest/api/canon/v1"
#: What tells, without the operation log, whether a write in doubt happened (`evidence`).
EVIDENCE = {
    "supplier.create_record": "a live SA2 row holds the CNPJ/CPF (A2_CGC)",
    "supplier.delete_record": "the SA2 row is deleted (D_E_L_E_T_ = '*')",
    "supplier.attach_document": "a live AC9 link of the supplier to an ACB object with this path",
    "supplier.detach_document": "the document's link is gone",
    "supplier.start_approval_routing": "a live SCR routing of the supplier",
    "supplier.cancel_approval_routing": "the routing is gone",
}
#: Writes that PUT fields on one row (SA2 or SC7): the row read back tells whether they ran.
_SETTING = (
    "supplier.block",
    "supplier.update_bank_account",
    "purchase_order.approve",
    "purchase_order.close",
    "purchase_order.update_delivery_date",
)
_RESTORING = (
    "supplier.unblock",
    "supplier.restore_bank_account",
    "purchase_order.revoke_approval",
    "purchase_order.reopen",
    "purchase_order.restore_delivery_date",
)
FIELD_EVIDENCE = {
    **dict.fromkeys(_SETTING, "the row does not hold the new values yet (else: lost)"),
    **dict.fromkeys(_RESTORING, "the row holds the values restored"),
}
CURRENCIES = {"1": "BRL", "2": "USD", "3": "UFIR", "4": "EUR", "5": "JPY"}
#: The custom service's resource of each table, and the table of each resource: an entity type
#: is kept in the table whose resource its profile's `source` names.
RESOURCES = {"SA2": "suppliers", "SA1": "customers", "SC7": "purchaseorders",
             "CT2": "accountingentries"}  # fmt: skip
TABLES = {resource: table for table, resource in RESOURCES.items()}
#: Resources of headers with their items: extracted as one row per item.
ITEMISED = frozenset({"purchaseorders"})
#: The change stamp Protheus keeps on a table once enabled (the sandbox: a sequence number).
STAMP = "S_T_A_M_P_"
#: Operations that set fields (and whose compensation sets the previous values back).
SETS: dict[str, tuple[str, dict[str, str]]] = {
    "supplier.block": ("SA2", {"A2_MSBLQL": "1"}),
    "purchase_order.approve": ("SC7", {"C7_CONAPRO": "L"}),
    "purchase_order.close": ("SC7", {"C7_ENCER": "E"}),
}
#: Where a supplier's bank account lives in a stock SA2: the Brazilian bank (COMPE) code, branch
#: ("agência") and account number. The roles are the params of `supplier.update_bank_account`.
STANDARD_BANK_FIELDS = {
    "bank_code": "A2_BANCO",
    "branch": "A2_AGENCIA",
    "account_number": "A2_NUMCON",
}
#: The roles a bank field can hold; `iban` and `account_holder` have no standard SA2 field, so an
#: installation that keeps them declares its own (custom, `A2_X...`) fields for them.
BANK_ROLES = ("bank_code", "branch", "account_number", "iban", "account_holder")
_SA2_FIELD = re.compile(r"A2_[A-Z0-9_]{1,7}")
RESTORES = {
    "transaction.reverse_reclassification": "CT2",
    "supplier.unblock": "SA2",
    "supplier.restore_bank_account": "SA2",
    "purchase_order.revoke_approval": "SC7",
    "purchase_order.reopen": "SC7",
    "purchase_order.restore_delivery_date": "SC7",
}


class ProtheusOAuth2(httpx.Auth):
    """Bearer tokens from Protheus's OAuth2 password grant; fetched lazily, renewed on 401."""

    requires_response_body = True

    def __init__(self, token_url: str, username: str, password: str) -> None:
        self.token_url, self.username, self.password = token_url, username, password
        self._token: str | None = None
        self._lock = threading.Lock()

    def _token_request(self) -> httpx.Request:
        params = {"grant_type": "password", "username": self.username, "password": self.password}
        return httpx.Request("POST", self.token_url, params=params)

    def _keep(self, response: httpx.Response) -> None:
        if response.status_code < 300:
            with self._lock:
                self._token = str(response.json()["access_token"])

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._token is None:
            self._keep((yield self._token_request()))
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == 401:
            self._keep((yield self._token_request()))
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("message", body)) if isinstance(body, dict) else str(body)[:200]


def _iso(value: str) -> str | None:
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if len(value or "") == 8 else None


def _entry_fields(row: dict[str, Any]) -> dict[str, Any]:
    """A CT2 line in field roles: its `account` is the debit account (`CT2_DC` 1, debit, or 3,
    a double-entry line), or the credit account of a credit line (2)."""
    credit = row.get("CT2_DC") == "2"
    moeda = str(row.get("CT2_MOEDLC") or "1").lstrip("0") or "1"
    return {
        "account": row.get("CT2_CREDIT" if credit else "CT2_DEBITO"),
        "cost_center": row.get("CT2_CCC" if credit else "CT2_CCD") or None,
        "amount": float(row.get("CT2_VALOR") or 0),
        "currency": CURRENCIES.get(moeda, "BRL"),
        "date": _iso(str(row.get("CT2_DATA") or "")),
        "description": row.get("CT2_HIST"),
    }


def bank_fields(spec: str) -> dict[str, str]:
    """The SA2 fields of a supplier's bank account, by role, from a declaration such as
    `standard` (A2_BANCO, A2_AGENCIA, A2_NUMCON), `iban=A2_XIBAN,account_holder=A2_XTITULA`
    (an installation's custom fields) or both, comma-separated; ValueError when it is not one."""
    fields: dict[str, str] = {}
    for part in (p.strip() for p in spec.split(",")):
        if part == "standard":
            fields.update(STANDARD_BANK_FIELDS)
            continue
        role, _, column = part.partition("=")
        role, column = role.strip(), column.strip().upper()
        if role not in BANK_ROLES or not _SA2_FIELD.fullmatch(column):
            raise ValueError(
                f"{part!r}: expected 'standard' or <role>=<SA2 field> (roles: "
                f"{', '.join(BANK_ROLES)}; fields A2_...)"
            )
        fields[role] = column
    if not fields:
        raise ValueError("no bank field declared")
    if len(set(fields.values())) != len(fields):
        raise ValueError(f"one SA2 field holds two roles: {fields}")
    return fields


def _party_fields(
    row: dict[str, Any], p: str, bank: Mapping[str, str] = STANDARD_BANK_FIELDS
) -> dict[str, Any]:
    fields = {
        "name": row.get(f"{p}_NOME"),
        "short_name": row.get(f"{p}_NREDUZ"),
        "tax_id": row.get(f"{p}_CGC"),
        "address": row.get(f"{p}_END"),
        "city": row.get(f"{p}_MUN"),
        "state": row.get(f"{p}_EST"),
        "postcode": row.get(f"{p}_CEP"),
        "blocked": row.get(f"{p}_MSBLQL") == "1",
    }
    if p == "A2":  # only the roles the installation keeps: a role it has no field for is unknown
        fields.update({role: row.get(column) for role, column in bank.items()})
    return fields


class ProtheusSettings(ErpSettings, Protocol):
    """What the Protheus connector is built from: the common ERP settings and its own."""

    @property
    def erp_auth(self) -> Literal["basic", "oauth2"]: ...

    @property
    def erp_protheus_filial_width(self) -> int: ...

    @property
    def erp_protheus_bank_fields(self) -> str: ...


@register("protheus")
class ProtheusConnector(RequestRunner):
    """The ERP connector for TOTVS Protheus's REST API.

    It runs (`operations`, from its `@runs` methods) the supplier and purchase-order operations
    and the reclassification of accounting entry lines (CT2, CTBA102); Protheus publishes no
    ticket API (docs/ERP.md)."""

    name = "Protheus"
    #: What tells a write in doubt happened without `operations/{key}` (`DeclaresEvidence`).
    evidence_of = {**EVIDENCE, **FIELD_EVIDENCE}
    #: Which table keeps each entity type: the resource its `source` names in this profile
    #: (None: the shipped `config/profiles/protheus.yaml`).
    profile: Profile | None = None

    def __init__(
        self,
        base_url: str,
        *,
        username: str,
        password: str,
        auth: Literal["basic", "oauth2"] = "basic",
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        lookup_service: bool | None = None,
        filial_width: int = FILIAL_WIDTH,
        bank: Mapping[str, str] | None = None,
    ) -> None:
        #: Whether the custom `operations` endpoint exists; None: ask the system once.
        self.lookup_service = lookup_service
        #: The width of the installation's filial (branch) code in primary keys.
        self.filial_width = filial_width
        #: The SA2 fields of a supplier's bank account, by role (`bank_fields`): the standard
        #: ones unless the installation declares others.
        self.bank = dict(bank or STANDARD_BANK_FIELDS)
        token_url = f"{base_url.rstrip('/')}/rest/api/oauth2/v1/token"
        chosen: httpx.Auth = (
            ProtheusOAuth2(token_url, username, password)
            if auth == "oauth2"
            else httpx.BasicAuth(username, password)
        )
        self.http = HttpErp(
            base_url,
            auth=chosen,
            timeout=timeout,
            name=self.name,
            error_text=_error_text,
            transport=transport,
        )

    @classmethod
    def from_settings(cls, settings: ProtheusSettings) -> ProtheusConnector:
        """The connector the deployment's settings describe (`gateway.erp.registry`)."""
        erp = access(settings)
        return cls(erp.url, username=erp.username, password=erp.password, auth=settings.erp_auth,
                   timeout=erp.timeout, lookup_service=erp.lookup_service,
                   filial_width=settings.erp_protheus_filial_width,
                   bank=bank_fields(settings.erp_protheus_bank_fields))  # fmt: skip

    # -- reads -------------------------------------------------------------------------------
    def _table(self, entity_type: str) -> str | None:
        """The table keeping an entity type's records (`SA2`), by its profile's source; None
        when the profile declares it nowhere this connector reads."""
        source = declared_source(self.profile or shipped_profile("protheus"), entity_type)
        return TABLES.get((source or {}).get("resource", ""))

    def read_record(self, entity_type: str, canonical_id: str) -> ErpRecord | None:
        prefix = self._table(entity_type)
        if prefix is None or not canonical_id.startswith(f"{prefix}:"):
            return None
        return self._record(entity_type, prefix, canonical_id)

    def _record(self, entity_type: str, prefix: str, canonical_id: str) -> ErpRecord | None:
        """A row of a table in the gateway's field roles (a party's, an order's, a line's)."""
        path = RESOURCES[prefix]
        body = self.http.json(
            self.http.send("GET", f"{API}/{path}/{self._pk(canonical_id)}", missing_ok=True)
        )
        if body is None:
            return None
        if prefix == "CT2":
            return record(
                entity_type, canonical_id, _entry_fields(body), body.get("D_E_L_E_T_") == "*"
            )
        if prefix == "SC7":
            return record(entity_type, canonical_id, self._po_fields(body), False)
        fields = _party_fields(body, prefix[1:], self.bank)
        return record(entity_type, canonical_id, fields, body.get("D_E_L_E_T_") == "*")

    def _po_fields(self, body: dict[str, Any]) -> dict[str, Any]:
        supplier_id = f"SA2::{body['C7_FORNECE']}:{body['C7_LOJA']}"
        supplier = self._record("supplier", "SA2", supplier_id)
        return {
            "supplier_id": supplier_id,
            "supplier_name": supplier.fields.get("name") if supplier else None,
            "amount": body["C7_TOTAL"],
            "currency": CURRENCIES.get(body["C7_MOEDA"], "BRL"),
            "delivery_date": _iso(body["C7_DATPRF"]),
            "issued": _iso(body["C7_EMISSAO"]),
            "approved": body["C7_CONAPRO"] == "L",
            "closed": body["C7_ENCER"] == "E",
        }

    def value_history(self, entity_type: str, canonical_id: str, field: str) -> list[float]:
        if self._table(entity_type) != "SC7" or field != "amount":
            return []
        body = self.http.json(
            self.http.send("GET", f"{API}/purchaseorders/{self._pk(canonical_id)}", missing_ok=True)
        )
        if body is None:
            return []
        supplier = {"C7_FORNECE": body["C7_FORNECE"], "C7_LOJA": body["C7_LOJA"]}
        values = []
        for page in self._pages("purchaseorders", 200, supplier):
            values += [float(p["C7_TOTAL"]) for p in page if p["C7_NUM"] != body["C7_NUM"]]
        return values

    def extract(
        self, entity_type: str, source: Source | None, page_size: int = 500
    ) -> Iterator[list[dict[str, str]]]:
        """Rows of the custom service's resource the profile names (`source: {resource:
        suppliers}`), in Protheus field names, page by page; a resource of headers with items
        (`purchaseorders`, SC7) gives one row per item."""
        resource = source_fields(self.name, entity_type, source, ("resource",))["resource"]
        for page in self._pages(resource, page_size, {}):
            if resource in ITEMISED:
                yield [{k: str(v) for k, v in item.items()} for h in page for item in h["items"]]
            else:
                yield [{k: str(v) for k, v in row.items()} for row in page]

    def _pages(
        self, path: str, size: int, filters: dict[str, str]
    ) -> Iterator[list[dict[str, Any]]]:
        def fetch(number: int) -> tuple[list[dict[str, Any]], bool]:
            params = {"page": number + 1, "pageSize": size, **filters}
            body = self.http.json(self.http.send("GET", f"{API}/{path}", params=params))
            return list(body["items"]), bool(body["hasNext"])

        return pages(fetch)

    # -- what keeps the resolver in step (gateway.erp.base.MasterReads) ----------------------
    def read_row(self, entity_type: str, canonical_id: str) -> dict[str, str] | None:
        """An SA2/SA1 row as `extract` yields it (a deleted one with `D_E_L_E_T_ = '*'`)."""
        prefix = self._table(entity_type)
        if prefix not in ("SA2", "SA1") or not canonical_id.startswith(f"{prefix}:"):
            raise unsupported(self.name, f"read a {entity_type} row")
        body = self.http.json(
            self.http.send(
                "GET", f"{API}/{RESOURCES[prefix]}/{self._pk(canonical_id)}", missing_ok=True
            )
        )
        return None if body is None else {k: str(v) for k, v in body.items()}

    def find_by_tax_id(self, entity_type: str, tax_id: str) -> list[ErpRecord]:
        """Live suppliers (customers) whose CGC has these digits, whatever its punctuation."""
        prefix = self._table(entity_type)
        if prefix not in ("SA2", "SA1"):
            raise unsupported(self.name, f"find a {entity_type} by tax id")
        p, wanted = prefix[1:], digits(tax_id)
        if not wanted:
            return []
        found = []
        for page in self._pages(RESOURCES[prefix], 100, {f"{p}_CGC": wanted}):
            for row in page:
                if digits(row.get(f"{p}_CGC")) != wanted or row.get("D_E_L_E_T_") == "*":
                    continue  # the ERP's filter is the authority; this only double-checks it
                uid = f"{prefix}:{row[f'{p}_FILIAL']}:{row[f'{p}_COD']}:{row[f'{p}_LOJA']}"
                found.append(record(entity_type, uid, _party_fields(row, p, self.bank), False))
        return found

    def changes(
        self, entity_type: str, since: str | None, page_size: int = 500
    ) -> Iterator[ChangePage]:
        """SA2/SA1 rows changed after the stamp `since` (`S_T_A_M_P_`, deletions included)."""
        prefix = self._table(entity_type)
        if prefix not in ("SA2", "SA1"):
            raise unsupported(self.name, f"read changes of {entity_type}")
        stamp = int(since or 0)
        while True:
            params = {"since": stamp, "pageSize": page_size}
            body = self.http.json(
                self.http.send("GET", f"{API}/changes/{RESOURCES[prefix]}", params=params)
            )
            rows = [{k: str(v) for k, v in row.items()} for row in body["items"]]
            if not rows:
                return
            stamp = max(int(row[STAMP]) for row in rows)
            yield ChangePage(rows=rows, watermark=str(stamp))
            if not body["hasNext"]:
                return

    def _pk(self, canonical_id: str) -> str:
        return pk_encode(canonical_id, self.filial_width)

    # -- writes: each operation's request (`RequestRunner.run` sends it) -------------------
    def answered(self, operation: ErpOperation, body: dict[str, Any]) -> ErpResult:
        return self._result(operation.idempotency_key, operation.operation, body)

    def lookup(self, idempotency_key: str) -> ErpResult | None:
        if self.lookup_service is None:
            probe = self.http.send("GET", f"{API}/operations", missing_ok=True)
            self.lookup_service = probe is not None
        if not self.lookup_service:
            raise ErpLookupMissing(f"Protheus: {API}/operations is not installed on this system")
        found = self.http.json(
            self.http.send("GET", f"{API}/operations/{idempotency_key}", missing_ok=True)
        )
        if found is None:
            return None
        return self._result(idempotency_key, str(found["operation"]), found["response"] or {})

    def evidence(self, operation: ErpOperation) -> ErpResult | None:
        """Whether `operation` happened, from SA2, AC9/ACB and SCR (see EVIDENCE)."""
        op, name = operation, operation.operation
        undone: dict[str, Any] = dict(op.params.get("result") or {}).get("data") or {}
        said = {"evidence": EVIDENCE.get(name, "")}
        if name == "supplier.create_record":
            return self._created(op)
        if name in FIELD_EVIDENCE:
            return self._fields_evidence(op)
        if name not in EVIDENCE:
            raise ErpUndecided(
                f"Protheus: {name} ({op.idempotency_key}) is not read back from standard tables "
                f"yet; check {op.canonical_id} before running it again"
            )
        base = f"{API}/suppliers/{self._pk(op.canonical_id or '')}"
        if name == "supplier.delete_record":
            row = self.http.json(self.http.send("GET", base, missing_ok=True))
            gone = row is None or row.get("D_E_L_E_T_") == "*"
            return result(op.idempotency_key, name, None, said) if gone else None
        if name in ("supplier.attach_document", "supplier.detach_document"):
            docs = self._listed(f"{base}/documents")
            if name == "supplier.detach_document":
                wanted = str(undone.get("document_id"))
                there = any(d["ACB_CODOBJ"] == wanted for d in docs)
                return None if there else result(op.idempotency_key, name, None, said)
            path = str(op.params.get("document") or "")
            found = [d for d in docs if d["ACB_OBJETO"] == path]
            if not found:
                return None
            if len(found) > 1:
                raise ErpUndecided(f"Protheus: {op.canonical_id} links {path} {len(found)} times")
            data = {"document_id": found[0]["ACB_CODOBJ"], **said}
            return result(op.idempotency_key, name, None, data)
        routings = self._listed(f"{base}/approvals")
        if name == "supplier.cancel_approval_routing":
            wanted = str(undone.get("routing_id"))
            there = any(str(r["R_E_C_N_O_"]) == wanted for r in routings)
            return None if there else result(op.idempotency_key, name, None, said)
        if not routings:
            return None
        if len(routings) > 1:
            raise ErpUndecided(f"Protheus: {op.canonical_id} has {len(routings)} open routings")
        data = {"routing_id": routings[0]["R_E_C_N_O_"], **said}
        return result(op.idempotency_key, name, None, data)

    def _fields_evidence(self, op: ErpOperation) -> ErpResult | None:
        """A PUT of fields on one row is all or nothing: the row tells whether it ran."""
        name = op.operation
        method, path, body = self.handle(op)
        row = self.http.json(self.http.send("GET", path, missing_ok=True))
        if row is None:
            raise ErpUndecided(f"Protheus: {op.canonical_id} does not exist")
        holds = all(str(row.get(k) or "") == str(v or "") for k, v in (body or {}).items())
        said = {"evidence": FIELD_EVIDENCE[name]}
        if name in RESTORES:
            return (
                result(op.idempotency_key, name, None, {"previous": {}, **said}) if holds else None
            )
        if not holds:
            return None
        raise ErpUndecided(
            f"Protheus: {op.canonical_id} already holds {body}: {name} ({op.idempotency_key}) "
            "may have run, and the values it replaced cannot be read back; check the record's "
            "history before going on"
        )

    def _listed(self, path: str) -> list[dict[str, Any]]:
        return list((self.http.json(self.http.send("GET", path)) or {}).get("items") or [])

    def _created(self, operation: ErpOperation) -> ErpResult | None:
        tax = digits(operation.params.get("tax_id"))
        body = self.http.json(self.http.send("GET", f"{API}/suppliers", params={"A2_CGC": tax}))
        rows = [r for r in body["items"] if r.get("D_E_L_E_T_", "") != "*"]
        if not rows:
            return None
        if len(rows) > 1:
            raise ErpUndecided(f"Protheus: {len(rows)} suppliers hold CNPJ/CPF {tax}")
        row = rows[0]
        return result(
            operation.idempotency_key,
            operation.operation,
            f"SA2:{row['A2_FILIAL']}:{row['A2_COD']}:{row['A2_LOJA']}",
            {"evidence": EVIDENCE["supplier.create_record"]},
        )

    def _base(self, op: ErpOperation) -> str:
        """The URL of the operation's target record (its table's resource, its key)."""
        target = op.canonical_id or ""
        pk = self._pk(target) if target else ""
        return f"{API}/{RESOURCES.get(target.split(':')[0], 'suppliers')}/{pk}"

    @runs("supplier.create_record")
    def _create_record(self, op: ErpOperation) -> Request:
        p = op.params
        tax = digits(p.get("tax_id"))
        kind = {14: "J", 11: "F"}.get(len(tax), "X")
        body = {
            "A2_NOME": p.get("name"),
            "A2_NREDUZ": str(p.get("name") or "")[:20],
            "A2_CGC": tax,
            "A2_TIPO": kind,
            "A2_END": p.get("address"),
            "A2_MUN": p.get("city"),
            "A2_EST": p.get("state"),
            "A2_CEP": digits(p.get("postcode")) or None,
        }
        return "POST", f"{API}/suppliers", {k: v for k, v in body.items() if v}

    @runs("supplier.delete_record")
    def _delete_record(self, op: ErpOperation) -> Request:
        return "DELETE", self._base(op), None

    @runs("supplier.attach_document")
    def _attach_document(self, op: ErpOperation) -> Request:
        document = str(op.params.get("document") or "")
        body = {"ACB_OBJETO": document, "ACB_DESCRI": "Supplier registration document"}
        return "POST", f"{self._base(op)}/documents", body

    @runs("supplier.detach_document")
    def _detach_document(self, op: ErpOperation) -> Request:
        return "DELETE", f"{self._base(op)}/documents/{undone_data(op).get('document_id')}", None

    @runs("supplier.start_approval_routing")
    def _start_approval_routing(self, op: ErpOperation) -> Request:
        return "POST", f"{self._base(op)}/approvals", {"CR_TIPO": "FO"}

    @runs("supplier.cancel_approval_routing")
    def _cancel_approval_routing(self, op: ErpOperation) -> Request:
        self._base(op)  # the target is a record's key, as for every write but a creation
        return "DELETE", f"{API}/approvals/{undone_data(op).get('routing_id')}", None

    @runs(*SETS)
    def _set(self, op: ErpOperation) -> Request:
        return "PUT", self._base(op), dict(SETS[op.operation][1])

    @runs("supplier.update_bank_account")
    def _update_bank_account(self, op: ErpOperation) -> Request:
        base, p = self._base(op), op.params
        missing = [role for role in self.bank if p.get(role) in (None, "")]
        if missing:
            raise ErpOperationFailed(
                f"Protheus: this installation keeps a supplier's bank account in "
                f"{', '.join(self.bank.values())}; give {', '.join(missing)} as well"
            )
        return "PUT", base, {column: p.get(role) for role, column in self.bank.items()}

    @runs("transaction.reclassify")
    def _reclassify(self, op: ErpOperation) -> Request:
        base = self._base(op)
        return "PUT", base, self._reclassification(base, op.params)

    @runs("purchase_order.update_delivery_date")
    def _update_delivery_date(self, op: ErpOperation) -> Request:
        return "PUT", self._base(op), {"C7_DATPRF": digits(op.params.get("delivery_date"))}

    @runs(*RESTORES)
    def _restore(self, op: ErpOperation) -> Request:
        return "PUT", self._base(op), dict(undone_data(op).get("previous") or {})

    def _reclassification(self, path: str, p: dict[str, Any]) -> dict[str, Any]:
        """The CT2 fields a reclassification sets: the line's account (the debit, or the credit
        of a credit line) and, when given, its cost center on the same side."""
        row = self.http.json(self.http.send("GET", path))
        credit = row.get("CT2_DC") == "2"
        body = {"CT2_CREDIT" if credit else "CT2_DEBITO": str(p.get("account") or "")}
        if p.get("cost_center"):
            body["CT2_CCC" if credit else "CT2_CCD"] = str(p["cost_center"])
        return body

    @staticmethod
    def _result(key: str, operation: str, body: dict[str, Any]) -> ErpResult:
        """What a write answered, the same whether read live or from the operation log."""
        row = body.get("record", body)
        data: dict[str, Any] = {}
        canonical_id: str | None = None
        if "A2_COD" in row:
            canonical_id = f"SA2:{row['A2_FILIAL']}:{row['A2_COD']}:{row['A2_LOJA']}"
        elif "C7_NUM" in row:
            canonical_id = f"SC7:{row['C7_FILIAL']}:{row['C7_NUM']}"
        if "ACB_CODOBJ" in body:
            data["document_id"] = body["ACB_CODOBJ"]
        if "CR_NUM" in body:
            data["routing_id"] = body["R_E_C_N_O_"]
        if "previous" in body:
            data["previous"] = body["previous"]
        return result(key, operation, canonical_id, data)
