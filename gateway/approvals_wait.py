"""Long-polling: an agent waits on its action (or resolution request) until a human (or the
clock) settles it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

from gateway.keys import Principal
from gateway.service import Gateway
from gateway.views import ActionView

#: Statuses an action leaves without the agent doing anything: worth waiting on.
UNSETTLED = frozenset({"pending_approval", "approved", "executing"})
MAX_WAIT_SECONDS = 60.0
T = TypeVar("T")


async def wait_until(
    read: Callable[[], T], settled: Callable[[T], bool], wait: float, poll: float = 0.25
) -> T:
    """`read()`'s answer once `settled` by it, or after `wait` seconds (at most 60)."""
    deadline = time.monotonic() + min(max(wait, 0.0), MAX_WAIT_SECONDS)
    while True:
        value = await asyncio.to_thread(read)
        left = deadline - time.monotonic()
        if settled(value) or left <= 0:
            return value
        await asyncio.sleep(min(poll, left))


async def wait_for_action(
    gateway: Gateway, principal: Principal, action_id: str, wait: float, poll: float = 0.25
) -> ActionView:
    """The action's view once it is settled, or after `wait` seconds, whichever comes first."""
    return await wait_until(
        lambda: gateway.status(principal, action_id),
        lambda view: view.status not in UNSETTLED,
        wait,
        poll,
    )
