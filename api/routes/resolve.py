"""`POST /v1/resolve`: what the agent means, as a canonical ERP id and a signed token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from api.deps import GatewayDep, PrincipalDep, ResolverDep
from gateway import ResolveResponse
from resolver import ResolveQuery

router = APIRouter(prefix="/v1", tags=["resolve"])

EXAMPLES = {
    "supplier-by-name-and-tax-id": {
        "summary": "A supplier by name and CNPJ",
        "value": {
            "entity_type": "supplier",
            "record": {"name": "ABC Manufacturing Ltda", "tax_id": "11.222.333/0001-81"},
        },
    },
    "protheus-fields": {
        "summary": "The ERP's own field names",
        "value": {"entity_type": "supplier", "record": {"A2_NOME": "ABC MANUFACTURING LTDA"}},
    },
    "free-text": {
        "summary": "A free-text mention (identifiers read from it, shown in query_identity)",
        "value": {"text": "the supplier ABC Manufacturing AG in Zürich, UID CHE-116.281.710"},
    },
    "purchase-order": {
        "summary": "A purchase order by branch and number",
        "value": {"entity_type": "purchase_order", "record": {"branch": "01", "number": "002891"}},
    },
}


@router.post(
    "/resolve",
    response_model=ResolveResponse,
    summary="Resolve a description to a canonical ERP id",
    description=(
        "Returns the decision (`match`, `ambiguous`, `no_match`), the candidates and the model "
        "and calibration versions. `match` and `no_match` carry a short-lived `resolution_token`, "
        "the only way to name the target of `POST /v1/actions`."
    ),
)
def resolve(
    query: Annotated[ResolveQuery, Body(openapi_examples=EXAMPLES)],
    principal: PrincipalDep,
    gateway: GatewayDep,
    resolver: ResolverDep,
) -> ResolveResponse:
    return gateway.resolve(principal, resolver, query)
