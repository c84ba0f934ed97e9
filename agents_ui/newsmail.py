"""My news by email (hub.newsmail): the address and which news an agent wants while away from the desk.

`GET /api/me/news-mail` answers the choice, the kinds offered with their words, and whether this hub can send
email at all (no relay: the Account page says so instead of promising email). `PUT` keeps a new choice.
"""

from __future__ import annotations

from aiohttp import web

from agents_ui import schemas
from agents_ui.appkeys import HUB
from agents_ui.auth import agent_of, error, requires
from httpkit.bodies import accepts, body_of
from hub.access import TICKET_READERS
from hub.newsmail import KINDS, NewsMailError, NewsWanted

#: What each kind of news is called on the Account page.
LABELS = {"message": "A customer writes on a ticket of mine",
          "assigned": "Someone gives me a ticket",
          "colleague": "A colleague answers, notes or solves a ticket of mine",
          "mention": "A colleague mentions me in a note",
          "reminder": "A pending ticket of mine opens again",
          "followed": "A customer writes on a ticket I follow"}


def _shown(request: web.Request, choice: NewsWanted) -> web.Response:
    hub = request.app[HUB]
    return web.json_response({"address": choice.address, "kinds": list(choice.kinds),
                              "offered": [{"kind": k, "label": LABELS[k]} for k in KINDS],
                              "can_send": hub.news.mailer is not None,
                              "refused": {"reason": choice.refused["reason"], "at": choice.refused["at"].isoformat()}
                              if choice.refused else None,
                              "delay_minutes": round(hub.news.delay.total_seconds() / 60, 1)})


@requires(*TICKET_READERS)
async def get_news_mail(request: web.Request) -> web.Response:
    """My choice: the address, the news I want by email (empty: none), and whether the hub can send email."""
    return _shown(request, await request.app[HUB].news.get(agent_of(request)["_id"]))


@requires(*TICKET_READERS)
@accepts(schemas.NewsMail)
async def set_news_mail(request: web.Request) -> web.Response:
    """Keep my choice (`address`, `kinds`): the news I want by email while I am away from the desk."""
    body = body_of(request, schemas.NewsMail)
    try:
        choice = await request.app[HUB].news.set(agent_of(request)["_id"], body.address, list(body.kinds))
    except NewsMailError as exc:
        raise error(400, str(exc)) from exc
    return _shown(request, choice)


def routes() -> list[web.RouteDef]:
    return [web.get("/api/me/news-mail", get_news_mail), web.put("/api/me/news-mail", set_news_mail)]
