"""The public help center: published articles as server-rendered pages anyone can read and link to.

- `GET /help`: a search box and the published articles by category (`?category=`, `?lang=`).
- `GET /help/search?q=`: the articles matching a question, best first, with the sentence that matches
  (the bot's own retrieval, bot.kb: BM25 with stemming, the thesaurus and typo correction).
- `GET /help/{slug}`: one article, its Markdown rendered and sanitised (httpkit.markdown), with
  "Was this article helpful? Yes / No". Unpublished and unknown articles answer 404.
- `POST /help/{slug}/feedback`: that answer (form field `answer` yes/no, `visitor` a random token
  the page's script keeps in localStorage). No cookies and no session: a cross-site form is refused
  by its `Origin`, each address may answer `FEEDBACK_PER_WINDOW` times per window (this process),
  and a visitor's answer is counted once per article (changing it moves the count).

Pages carry their own Content-Security-Policy (scripts and styles from the hub only, nothing
inline but style attributes, images from the hub or https). Text from articles is escaped except
the rendered body, which is sanitised HTML.
"""

from __future__ import annotations

import hashlib
import weakref
from html import escape
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from agents_ui.appkeys import HUB
from agents_ui.auth import same_origin
from bot.kb.source import ArticleFinder
from httpkit.markdown import render_html, snippet
from httpkit.ratelimit import RateLimiter, Rule, address_key, admit, retry_after_seconds
from hub.knowledge import Article

CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
FEEDBACK_PER_WINDOW = 30
FEEDBACK_WINDOW_SECONDS = 600.0
MAX_QUERY = 200
#: Articles listed per topic on the front page (a topic's own page lists all of them).
PER_TOPIC = 6
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch", "fr": "Français", "es": "Español", "it": "Italiano",
                  "nl": "Nederlands", "pt": "Português", "pl": "Polski", "sv": "Svenska", "da": "Dansk"}
_feedback_limit = RateLimiter([Rule(FEEDBACK_PER_WINDOW, FEEDBACK_WINDOW_SECONDS)])
#: The search index of each knowledge base (one per hub in this process).
_finders: weakref.WeakKeyDictionary[Any, ArticleFinder] = weakref.WeakKeyDictionary()


# -- search ---------------------------------------------------------------------------------------

async def search(app: web.Application, query: str, *, limit: int = 20,
                 language: str | None = None) -> list[tuple[Article, str]]:
    """Published articles matching `query`, best first, each with the sentence that matches best:
    the bot's retrieval (bot.kb: BM25 over title and body, stemming, the shop thesaurus, typo
    correction), rebuilt when the knowledge base's revision moves."""
    if not query.split():
        return []
    kb = app[HUB].knowledge
    finder = _finders.get(kb)
    if finder is None:
        finder = _finders[kb] = ArticleFinder(kb)
    index = await finder.index(ttl=0)  # one look at the revision per search; a rebuild only after a change
    hits = index.search(query, k=len(index))
    return [(hit.article, hit.snippet) for hit in hits
            if language is None or hit.article.language == language][:limit]


# -- pages ----------------------------------------------------------------------------------------

def _page(title: str, content: str, *, lang: str = "en", query: str = "", lang_param: str | None = None,
          status: int = 200) -> web.Response:
    hidden = f'<input type="hidden" name="lang" value="{escape(lang_param)}">' if lang_param else ""
    html = f"""<!doctype html>
<html lang="{escape(lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<link rel="stylesheet" href="/desk/static/help.css">
<script src="/desk/static/help.js" type="module"></script>
</head>
<body>
<header class="top">
  <div class="wrap">
    <a class="brand" href="/help">Help center</a>
    <form class="search" action="/help/search" method="get" role="search">
      <input type="search" name="q" value="{escape(query)}" maxlength="{MAX_QUERY}"
             placeholder="Search the help center" aria-label="Search the help center">{hidden}
      <button type="submit">Search</button>
    </form>
  </div>
</header>
<main class="wrap">
{content}
</main>
<footer class="wrap muted">Can't find what you need? Start a chat with us and a person will help.</footer>
</body>
</html>"""
    return web.Response(text=html, status=status, content_type="text/html",
                        headers={"Content-Security-Policy": CSP, "X-Frame-Options": "DENY"})


def _href(path: str, **params: str | None) -> str:
    kept = {k: v for k, v in params.items() if v}
    return escape(path + ("?" + urlencode(kept) if kept else ""))


def _updated(article: Article) -> str:
    return article.updated_at.strftime("%-d %B %Y")


async def _language(request: web.Request) -> tuple[str | None, list[str]]:
    """The language to list (`?lang=`, else the browser's first that has articles; None: all) and
    the languages that have published articles."""
    languages = await request.app[HUB].knowledge.languages()
    if len(languages) < 2:
        return None, languages
    asked = request.query.get("lang", "").lower()
    if asked in languages:
        return asked, languages
    for part in request.headers.get("Accept-Language", "").split(","):
        code = part.split(";")[0].strip().lower()
        for candidate in (code, code.split("-")[0]):
            if candidate in languages:
                return candidate, languages
    return ("en" if "en" in languages else languages[0]), languages


def _language_links(chosen: str | None, languages: list[str], path: str = "/help") -> str:
    if chosen is None:
        return ""
    def link(code: str) -> str:
        name = escape(LANGUAGE_NAMES.get(code, code))
        if code == chosen:
            return f"<strong>{name}</strong>"
        return f'<a href="{_href(path, lang=code)}" hreflang="{escape(code)}">{name}</a>'

    links = " · ".join(link(code) for code in languages)
    return f'<nav class="languages" aria-label="Language">{links}</nav>'


async def index(request: web.Request) -> web.Response:
    """The help center's front page: search and the published articles by category."""
    language, languages = await _language(request)
    category = request.query.get("category", "")[:100] or None
    articles = await request.app[HUB].knowledge.published(language)
    groups: dict[str, list[Article]] = {}
    for article in articles:
        groups.setdefault(article.category, []).append(article)
    names = sorted(groups, key=str.casefold)
    shown = [category] if category in groups else names
    lang_param = language if len(languages) > 1 else None
    chips = "".join(
        f'<a class="chip{" active" if name == category else ""}" '
        f'href="{_href("/help", category=name, lang=lang_param)}">'
        f'{escape(name)} <span class="count">{len(groups[name])}</span></a>' for name in names)
    if category in groups:
        chips = f'<a class="chip" href="{_href("/help", lang=lang_param)}">All topics</a>' + chips
    def card(name: str) -> str:
        listed = groups[name] if category in groups else groups[name][:PER_TOPIC]
        more = ""
        if len(listed) < len(groups[name]):
            more = (f'<p class="more"><a href="{_href("/help", category=name, lang=lang_param)}">'
                    f'All {len(groups[name])} articles in {escape(name)} →</a></p>')
        return (f'<section class="category"><h2>{escape(name)}</h2><ul>'
                + "".join(f'<li><a href="/help/{escape(a.slug)}">{escape(a.title)}</a>'
                          f'<p class="muted">{escape(snippet(a.body, 110))}</p></li>' for a in listed)
                + f"</ul>{more}</section>")

    cards = "".join(card(name) for name in shown)
    if not articles:
        cards = '<p class="empty">No articles have been published yet.</p>'
    hidden = f'<input type="hidden" name="lang" value="{escape(language)}">' if lang_param and language else ""
    content = f"""<section class="hero">
  <h1>How can we help?</h1>
  <form action="/help/search" method="get" role="search" class="big-search">
    <input type="search" name="q" maxlength="{MAX_QUERY}" placeholder="Describe your question, e.g. “track my order”"
           aria-label="Describe your question" autofocus>{hidden}
    <button type="submit">Search</button>
  </form>
  {_language_links(language, languages)}
</section>
<nav class="chips" aria-label="Topics">{chips}</nav>
<div class="categories">{cards}</div>"""
    return _page("Help center", content, lang=language or "en", lang_param=lang_param)


async def search_page(request: web.Request) -> web.Response:
    """Articles matching `q`, best first, with a snippet."""
    query = " ".join(request.query.get("q", "").split())[:MAX_QUERY]
    language, languages = await _language(request)
    lang_param = language if len(languages) > 1 else None
    found = await search(request.app, query, language=language) if query else []
    if not query:
        results = '<p class="empty">Type a question in the search box above.</p>'
    elif not found:
        results = (f'<p class="empty">No articles match “{escape(query)}”. Try other words, or '
                   f'<a href="{_href("/help", lang=lang_param)}">browse all topics</a>.</p>')
    else:
        results = '<ol class="results">' + "".join(
            f'<li><a href="/help/{escape(a.slug)}">{escape(a.title)}</a> <span class="tag">{escape(a.category)}</span>'
            f'<p class="muted">{escape(text or snippet(a.body, 200))}</p></li>' for a, text in found) + "</ol>"
    count = f"{len(found)} article{'s' if len(found) != 1 else ''}" if query else ""
    content = f"""<p class="crumbs"><a href="{_href("/help", lang=lang_param)}">Help center</a> &rsaquo; Search</p>
<h1>Search{f" results for “{escape(query)}”" if query else ""}</h1>
<p class="muted" id="result-count">{count}</p>
{results}"""
    return _page(f"{query} · Help center" if query else "Search · Help center", content, lang=language or "en",
                 query=query, lang_param=lang_param)


def _not_found() -> web.Response:
    content = """<h1>Article not found</h1>
<p>This article does not exist or is no longer published. <a href="/help">Browse the help center</a>
or search above.</p>"""
    return _page("Not found · Help center", content, status=404)


async def article_page(request: web.Request) -> web.Response:
    """One published article, rendered; 404 for an unknown or unpublished one."""
    kb = request.app[HUB].knowledge
    article = await kb.get_by_slug(request.match_info["slug"])
    if article is None or not article.published:
        return _not_found()
    related = [a for a in await kb.published(article.language) if a.category == article.category and a.id != article.id]
    more = ""
    if related:
        more = (f'<aside class="related"><h2>More in {escape(article.category)}</h2><ul>'
                + "".join(f'<li><a href="/help/{escape(a.slug)}">{escape(a.title)}</a></li>' for a in related[:8])
                + "</ul></aside>")
    thanks = request.query.get("thanks")
    answered = ('<p class="thanks" role="status">Thanks for letting us know.</p>' if thanks in ("yes", "no") else "")
    content = f"""<p class="crumbs"><a href="/help">Help center</a> &rsaquo;
  <a href="{_href("/help", category=article.category)}">{escape(article.category)}</a></p>
<div class="layout">
<article class="article" lang="{escape(article.language)}">
  <h1>{escape(article.title)}</h1>
  <p class="muted">Updated {escape(_updated(article))}</p>
  <div class="body">{render_html(article.body)}</div>
  <form class="feedback" method="post" action="/help/{escape(article.slug)}/feedback" data-feedback>
    <span>Was this article helpful?</span>
    <input type="hidden" name="visitor" value="">
    <button type="submit" name="answer" value="yes">Yes</button>
    <button type="submit" name="answer" value="no">No</button>
    {answered}<p class="thanks" role="status" hidden>Thanks for letting us know.</p>
  </form>
</article>
{more}
</div>"""
    return _page(f"{article.title} · Help center", content, lang=article.language)


async def feedback(request: web.Request) -> web.Response:
    """A reader's answer to "Was this article helpful?" (form: `answer` yes/no, `visitor` token)."""
    wants_json = "application/json" in request.headers.get("Accept", "")

    def refuse(status: int, reason: str, headers: dict[str, str] | None = None) -> web.Response:
        if wants_json:
            return web.json_response({"error": reason}, status=status, headers=headers)
        return web.Response(text=reason, status=status, content_type="text/plain", headers=headers)

    if not same_origin(request):
        return refuse(403, "answers are taken from the help center's own pages only")
    if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return refuse(400, "a form with `answer` yes or no is expected")
    form = await request.post()
    answer = form.get("answer")
    if answer not in ("yes", "no"):
        return refuse(400, "answer: yes or no")
    wait = admit([(_feedback_limit, address_key(request.remote))])  # each address: a sliding window per process
    if wait:
        seconds = retry_after_seconds(wait)
        return refuse(429, f"too many answers from this address; try again in {seconds} s",
                      {"Retry-After": str(seconds)})
    visitor = str(form.get("visitor") or "")[:100]
    if len(visitor) < 16:  # no script: the address and browser stand in for the visitor
        seed = f"{request.remote}|{request.headers.get('User-Agent', '')}"
        visitor = "anon:" + hashlib.sha256(seed.encode()).hexdigest()[:32]
    slug = request.match_info["slug"]
    article = await request.app[HUB].knowledge.get_by_slug(slug)
    if article is None or not await request.app[HUB].knowledge.feedback(article.id, visitor, answer == "yes"):
        return refuse(404, "no such article")
    if wants_json:
        return web.json_response({"ok": True})
    raise web.HTTPSeeOther(f"/help/{article.slug}?thanks={answer}")


def routes() -> list[web.RouteDef]:
    return [
        web.get("/help", index),
        web.get("/help/search", search_page),
        web.get("/help/{slug}", article_page),
        web.post("/help/{slug}/feedback", feedback),
    ]


def reset_limits() -> None:
    """Forget the feedback rate limits (tests)."""
    _feedback_limit.clear()

