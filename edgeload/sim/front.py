"""The front of the simulated box: what a real box's nginx does with a request.

As in the edge endpoint's nginx.conf:
- `/` (exactly) redirects to /status;
- `/status...` goes to the status monitor (`status_app.py`), whose answers are final;
- everything else goes to the edge app (`edge_app.py`), and when the edge app answers 404, 405
  or 422 the request is resent to the cloud (`cloud_api.py`), whose answer the client gets.

The simulator adds its admin API under /_sim/ (`admin.py`), which no fault touches. The box's
faults that are not about image queries act here: while the endpoint is down every connection
is reset; during a stall every request waits until it ends.
"""

from __future__ import annotations

import asyncio
from typing import Any

from edgeload.sim.http import DROP, Request, Response

FALLBACK_STATUSES = frozenset({404, 405, 422})
_REDIRECT = Response(302, b"", "text/html", [("location", "/status")])


class Front:
    """`await front.handle(request)` for the edge port."""

    def __init__(
        self, clock: Any, faults: Any, edge: Any, status: Any, cloud_api: Any, admin: Any
    ) -> None:
        self.clock = clock
        self.faults = faults
        self.edge = edge
        self.status = status
        self.cloud_api = cloud_api
        self.admin = admin
        self.counters = {"to_cloud": 0}

    async def handle(self, req: Request) -> Any:
        path = req.path
        if path.startswith("/_sim/"):
            return await self.admin.handle(req)
        faults = self.faults
        now = self.clock.now()
        if faults.is_down(now):
            faults.count("down_reset")
            return DROP
        wait = faults.stall_wait(now)
        if wait > 0:
            faults.count("stalled")
            await asyncio.sleep(self.clock.real_seconds(wait))
        if path.startswith("/status"):
            return await self.status.handle(req)
        if path == "/":
            return _REDIRECT
        response = await self.edge.handle(req)
        if isinstance(response, Response) and response.status in FALLBACK_STATUSES:
            self.counters["to_cloud"] += 1
            return await self.cloud_api.handle(req)
        return response
