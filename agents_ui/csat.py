"""The public page an email rating link opens: `/csat/<token>` (hub.csat).

Mail security scanners open every link in a mail before the customer does, so the GET records
nothing: it shows the request with the linked score preselected, an optional comment and a
"Send rating" button. The rating is recorded by that form's POST (same-origin, the token again),
once per ticket: after it, the page says thank you and offers no form (a second POST is refused).
`Referrer-Policy: same-origin`: the token never leaves in a Referer, yet the form's POST carries
an Origin (with `no-referrer` Chromium sends `Origin: null`).
"""

from __future__ import annotations

from html import escape

from aiohttp import web

from agents_ui.appkeys import HUB
from agents_ui.auth import same_origin
from hub.csat import LinkError
from hub.store import Doc
from hub.tickets import AlreadyRated, TicketError

CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")
LABELS = {1: "Not at all happy", 2: "Not happy", 3: "Okay", 4: "Happy", 5: "Very happy"}
MAX_COMMENT = 2000


def _page(title: str, content: str, status: int = 200) -> web.Response:
    html = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{escape(title)}</title>
<link rel="stylesheet" href="/desk/static/csat.css">
</head>
<body>
<main class="card">
{content}
</main>
</body>
</html>"""
    return web.Response(text=html, status=status, content_type="text/html",
                        headers={"Content-Security-Policy": CSP, "X-Frame-Options": "DENY",
                                 "Referrer-Policy": "same-origin", "Cache-Control": "no-store"})


def _message(title: str, text: str, status: int) -> web.Response:
    return _page(title, f"<h1>{escape(title)}</h1>\n<p>{escape(text)}</p>", status)


async def _ticket(request: web.Request) -> tuple[Doc, int] | web.Response:
    links = request.app[HUB].tickets.csat_links
    if links is None:
        return _message("Rating unavailable", "Ratings by link are not set up here.", 404)
    try:
        number, score = links.verify(request.match_info["token"])
    except LinkError as exc:
        expired = "expired" in str(exc)
        return _message("Link expired" if expired else "Link not valid",
                        f"{str(exc).capitalize()}. Thank you all the same; just reply to the mail to reach us.",
                        410 if expired else 404)
    ticket = await request.app[HUB].store.tickets.find_one(
        {"number": number}, projection={"number": 1, "subject": 1, "status": 1, "csat": 1})
    if ticket is None:
        return _message("Link not valid", "This rating link is not valid.", 404)
    return ticket, score


def _thanks(ticket: Doc) -> web.Response:
    rating = ticket["csat"]
    return _page("Thank you", f"""<h1>Thank you!</h1>
<p>Your rating of request #{int(ticket["number"])}: <strong>{int(rating["score"])} of 5</strong>
({escape(LABELS[int(rating["score"])])}).</p>
<p class="muted">A request is rated once; this one is done.</p>""")


async def page(request: web.Request) -> web.Response:
    """The rating form, the linked score preselected. Records nothing (link scanners open it too)."""
    found = await _ticket(request)
    if isinstance(found, web.Response):
        return found
    ticket, score = found
    if ticket.get("csat"):
        return _thanks(ticket)
    choices = "\n".join(
        f'<label class="score"><input type="radio" name="score" value="{n}"{" checked" if n == score else ""}>'
        f'<span class="n">{n}</span><span class="word">{escape(LABELS[n])}</span></label>'
        for n in range(1, 6))
    subject = f" ({escape(str(ticket.get('subject') or ''))})" if ticket.get("subject") else ""
    return _page("Rate our help", f"""<h1>How happy are you with our help?</h1>
<p>Request #{int(ticket["number"])}{subject}</p>
<form method="post" action="/csat/{escape(request.match_info["token"])}">
<fieldset class="scores"><legend>Your score</legend>
{choices}
</fieldset>
<label class="comment" for="comment">Anything you'd like to tell us? (optional)</label>
<textarea id="comment" name="comment" rows="4" maxlength="{MAX_COMMENT}"></textarea>
<button type="submit">Send rating</button>
</form>""")


async def submit(request: web.Request) -> web.Response:
    """Record the rating (form: `score` 1-5, optional `comment`), once per ticket."""
    if not same_origin(request):
        return _message("Not sent", "Ratings are taken from this page only.", 403)
    found = await _ticket(request)
    if isinstance(found, web.Response):
        return found
    ticket, linked = found
    if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return _message("Not sent", "A form with a score from 1 to 5 is expected.", 400)
    form = await request.post()
    raw = str(form.get("score") or linked)
    if raw not in ("1", "2", "3", "4", "5"):
        return _message("Not sent", "The score must be a number from 1 to 5.", 400)
    comment = str(form.get("comment") or "")[:MAX_COMMENT]
    try:
        await request.app[HUB].tickets.rate(ticket["_id"], int(raw), comment, channel="email")
    except AlreadyRated:
        return _message("Already rated", "This request has been rated already. Thank you!", 409)
    except TicketError as exc:
        return _message("Not sent", str(exc).capitalize() + ".", 409)
    # Post/redirect/get: a reload shows the thanks rather than sending the form again.
    raise web.HTTPSeeOther(f"/csat/{request.match_info['token']}")


def routes() -> list[web.RouteDef]:
    return [web.get("/csat/{token}", page), web.post("/csat/{token}", submit)]
