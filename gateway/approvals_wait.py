"""Long-polling: an agent waits on its action until a human (or the clock) settles it."""

from __future__ import annotations

import asyncio
import time

from gateway.keys import Principal
from gateway.service import Gateway
from gateway.views import ActionView

#: Statuses an action leaves without the agent doing anything: worth waiting on.
UNSETTLED = frozenset({"pending_approval", "approved", "executing"})
MAX_WAIT_SECONDS = 60.0


async def wait_for_action(
    gateway: Gateway, principal: Principal, action_id: str, wait: float, poll: float = 0.25
) -> ActionView:
    """The action's view once it is settled, or after `wait` seconds, whichever comes first."""
    deadline = time.monotonic() + min(max(wait, 0.0), MAX_WAIT_SECONDS)
    while True:
        view = await asyncio.to_thread(gateway.status, principal, action_id)
        left = deadline - time.monotonic()
        if view.status not in UNSETTLED or left <= 0:
            return view
        await asyncio.sleep(min(poll, left))
