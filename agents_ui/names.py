"""The names the desk shows for what a ticket holds by id or key: its assignee and its queue; and whom a note may
mention and whom a supervisor may assign tickets to.

A ticket (read, listed or sent live) carries `assignee_id` and `queue`; agents read "assigned to Bob" and
"General support", never an id or a key. The page reads these names once and again when a ticket names one it
does not know (a colleague added, a queue created), so no ticket read or live frame pays for a lookup.
"""

from __future__ import annotations

from aiohttp import web

from agents_ui.appkeys import HUB
from agents_ui.auth import requires
from hub.access import TICKET_READERS, TICKET_WORKERS
from hub.accounts import has_role
from hub.mentions import may_be_mentioned


@requires(*TICKET_READERS, scope="tickets:read")
async def names(request: web.Request) -> web.Response:
    """Every desk user's name by id (a disabled one's too: old tickets still name them) and every queue's title
    by key. A team is tens of people: one read."""
    hub = request.app[HUB]
    agents = await hub.store.agents.find({}, projection={"name": 1, "username": 1, "roles": 1, "disabled": 1}
                                         ).to_list()
    return web.json_response({
        "agents": {str(a["_id"]): a.get("name") or a.get("username") for a in agents},
        "queues": {key: queue.title or key for key, queue in hub.tickets.queues.items()},
        # whom a private note may mention ("@"): active colleagues who read tickets (hub.mentions)
        "mentionable": [str(a["_id"]) for a in agents if may_be_mentioned(a)],
        # whom a supervisor may give tickets to (agents_ui.assigning): active users with the agent role
        "assignable": [str(a["_id"]) for a in agents if not a.get("disabled") and has_role(a, *TICKET_WORKERS)],
    })


def routes() -> list[web.RouteDef]:
    return [web.get("/api/names", names)]
