"""Resolution tokens for tests, issued as `POST /v1/resolve` would: to one API key.

The gate refuses a token from any key but the one it was issued to, so a test that skips the
resolver still names the key that will present the token: a principal, the full key, or the
`Authorization` header that carries it.
"""

from __future__ import annotations

from gateway import Gateway, Principal
from resolver.types import Resolution

AgentRef = Principal | str | dict[str, str]


def key_id(agent: AgentRef) -> str:
    """The API key id of a principal, a full key (`canon_<id>_<secret>`) or its header."""
    if isinstance(agent, Principal):
        return agent.key_id
    key = agent["Authorization"].removeprefix("Bearer ") if isinstance(agent, dict) else agent
    prefix, found, rest = key.partition("_")
    assert prefix == "canon" and found, "not a Canon API key"
    return rest.partition("_")[0]


def issue_for(gateway: Gateway, resolution: Resolution, agent: AgentRef) -> str:
    """The gateway's token for a match or no_match `resolution`, issued to `agent`'s key."""
    token = gateway.signer.issue(resolution, holder=key_id(agent))
    assert token is not None, "ambiguous resolutions get no token"
    return token
