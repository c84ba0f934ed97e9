"""Help-center articles in the desk: trainers write and publish them, every desk user links to them.

Trainers (admins too) list, create, change, publish, unpublish and delete articles and preview
their Markdown with the same renderer as the public pages (`POST /api/kb/preview`). Agents search
the published ones to insert a link into a reply (`GET /api/kb/links`): the link is on the hub's
public URL when one is configured (`hub.public_url`), else on the origin the desk was loaded from.
The public pages themselves are agents_ui.helpcenter.
"""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import AfterValidator, Field, Strict

from agents_ui import helpcenter
from agents_ui.appkeys import HUB, PUBLIC_ORIGIN
from agents_ui.auth import agent_of, error, requires
from httpkit.bodies import accepts, body_of
from httpkit.fields import Body, Flag, Token, no_surrogates
from httpkit.markdown import render_html, snippet
from hub.knowledge import MAX_BODY, MAX_CATEGORY, MAX_TITLE, Article, ArticleError
from hub.models import Role

#: The article body as typed: Markdown, bounded (the domain trims and checks it is not blank).
Markdown = Annotated[str, Strict(), Field(min_length=1, max_length=MAX_BODY), AfterValidator(no_surrogates)]
Title = Annotated[Token, Field(min_length=1, max_length=MAX_TITLE)]
Category = Annotated[Token, Field(min_length=1, max_length=MAX_CATEGORY)]
Language = Annotated[Token, Field(min_length=2, max_length=16, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?$")]


class ArticleFields(Body):
    """A new article."""

    title: Title
    body: Markdown = Field(description="Markdown")
    category: Category
    language: Language = "en"
    published: Flag = False


class ArticleChange(Body):
    """Some of an article's fields (those left out stay as they are)."""

    title: Title | None = None
    body: Markdown | None = Field(None, description="Markdown")
    category: Category | None = None
    language: Language | None = None
    published: Flag | None = None


class Preview(Body):
    body: Annotated[Markdown, Field(min_length=0)] = Field(description="Markdown")


def link_base(request: web.Request) -> str:
    """Where the public help center is: the configured public URL's origin, else this request's."""
    return request.app.get(PUBLIC_ORIGIN) or f"{request.scheme}://{request.host}"


def article_json(article: Article, base: str, *, body: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": article.id, "slug": article.slug, "title": article.title, "category": article.category,
        "language": article.language, "published": article.published, "updated_at": article.updated_at.isoformat(),
        "url": f"{base}/help/{article.slug}", "helpful": article.helpful, "not_helpful": article.not_helpful,
    }
    if body:
        out["body"] = article.body
    else:
        out["snippet"] = snippet(article.body, 160)
    return out


def _bool(value: str | None, name: str) -> bool | None:
    if value in (None, ""):
        return None
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise error(400, f"{name}: true or false")


def _text(request: web.Request, name: str, limit: int = 200) -> str | None:
    value = request.query.get(name, "").strip()
    if len(value) > limit:
        raise error(400, f"{name}: at most {limit} characters")
    return value or None


@requires(Role.TRAINER)
async def list_articles(request: web.Request) -> web.Response:
    """Articles, newest change first; filters `q` (title, category or text), `category`, `language`,
    `published` (true/false). Also the categories in use, for the editor's suggestions."""
    kb = request.app[HUB].knowledge
    published = _bool(request.query.get("published"), "published")
    articles = await kb.list(query=_text(request, "q"), category=_text(request, "category"),
                             language=_text(request, "language", 16), limit=1000)
    every = await kb.list(limit=100_000)
    if published is not None:
        articles = [a for a in articles if a.published is published]
    base = link_base(request)
    return web.json_response({"articles": [article_json(a, base, body=False) for a in articles],
                              "categories": sorted({a.category for a in every}, key=str.casefold)})


@requires(Role.TRAINER)
async def get_article(request: web.Request) -> web.Response:
    """One article with its Markdown body."""
    article = await request.app[HUB].knowledge.get(request.match_info["id"])
    if article is None:
        raise error(404, "no such article")
    return web.json_response({"article": article_json(article, link_base(request))})


@requires(Role.TRAINER)
@accepts(ArticleFields)
async def create_article(request: web.Request) -> web.Response:
    """Write an article: title, Markdown body, category, language, published (default false)."""
    fields = body_of(request, ArticleFields).model_dump()
    try:
        article = await request.app[HUB].knowledge.create(**fields, actor=agent_of(request), ip=request.remote)
    except ArticleError as exc:
        raise error(400, str(exc)) from exc
    return web.json_response({"article": article_json(article, link_base(request))}, status=201)


async def _update(request: web.Request, **fields: Any) -> web.Response:
    try:
        article = await request.app[HUB].knowledge.update(request.match_info["id"], actor=agent_of(request),
                                                          ip=request.remote, **fields)
    except LookupError as exc:
        raise error(404, "no such article") from exc
    except ArticleError as exc:
        raise error(400, str(exc)) from exc
    return web.json_response({"article": article_json(article, link_base(request))})


@requires(Role.TRAINER)
@accepts(ArticleChange)
async def update_article(request: web.Request) -> web.Response:
    """Change some of an article's fields; its address stays once it has been published."""
    fields = body_of(request, ArticleChange).model_dump(exclude_none=True)
    if not fields:
        raise error(400, "nothing to change")
    return await _update(request, **fields)


@requires(Role.TRAINER)
async def publish(request: web.Request) -> web.Response:
    """Publish an article on the help center (and to the bot)."""
    return await _update(request, published=True)


@requires(Role.TRAINER)
async def unpublish(request: web.Request) -> web.Response:
    """Take an article off the help center (its page answers 404 until published again)."""
    return await _update(request, published=False)


@requires(Role.TRAINER)
async def delete_article(request: web.Request) -> web.Response:
    """Delete an article for good."""
    try:
        await request.app[HUB].knowledge.delete(request.match_info["id"], actor=agent_of(request), ip=request.remote)
    except LookupError as exc:
        raise error(404, "no such article") from exc
    return web.json_response({"ok": True})


@requires(Role.TRAINER)
@accepts(Preview)
async def preview(request: web.Request) -> web.Response:
    """The Markdown as the help center will show it (sanitised HTML)."""
    return web.json_response({"html": render_html(body_of(request, Preview).body)})


@requires()
async def links(request: web.Request) -> web.Response:
    """Published articles matching `q` (all when empty), each with its public `url`: for a reply."""
    kb = request.app[HUB].knowledge
    query = _text(request, "q")
    found = [a for a, _ in await helpcenter.search(request.app, query, limit=10)] if query else await kb.published()
    base = link_base(request)
    return web.json_response({"articles": [article_json(a, base, body=False) for a in found[:20]]})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/kb/articles", list_articles),
        web.post("/api/kb/articles", create_article),
        web.get("/api/kb/articles/{id}", get_article),
        web.patch("/api/kb/articles/{id}", update_article),
        web.delete("/api/kb/articles/{id}", delete_article),
        web.post("/api/kb/articles/{id}/publish", publish),
        web.post("/api/kb/articles/{id}/unpublish", unpublish),
        web.post("/api/kb/preview", preview),
        web.get("/api/kb/links", links),
        *helpcenter.routes(),
    ]
