"""Request dependencies: the gateway, the resolver, and the authenticated principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway import EntityResolver, Gateway, Principal
from gateway.errors import NotAuthenticated
from resolver import ModelError

_bearer = HTTPBearer(auto_error=False, description="An API key from `canon keys create`")


def get_gateway(request: Request) -> Gateway:
    """The app's gateway."""
    gateway: Gateway = request.app.state.gateway
    return gateway


def get_resolver(request: Request) -> EntityResolver:
    """The app's resolver, or ModelError when the workdir holds no trained model."""
    resolver: EntityResolver | None = request.app.state.resolver
    if resolver is None:
        raise ModelError(request.app.state.resolver_error or "no trained model loaded")
    return resolver


def get_principal(
    request: Request,
    gateway: Annotated[Gateway, Depends(get_gateway)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The holder of the request's API key (`Authorization: Bearer <key>`)."""
    if credentials is None:
        raise NotAuthenticated("a valid API key is required (Authorization: Bearer <key>)")
    principal = gateway.authenticate(credentials.credentials)
    request.state.principal = principal
    return principal


GatewayDep = Annotated[Gateway, Depends(get_gateway)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
ResolverDep = Annotated[EntityResolver, Depends(get_resolver)]
