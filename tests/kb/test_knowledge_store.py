"""hub.knowledge: unique stable slugs, the revision counter, the published filter, the audit trail, feedback."""

from __future__ import annotations

import pytest

from hub.audit import AuditQuery
from hub.knowledge import ArticleError, slugify
from hub.models import Role
from switchboard.bootstrap import Runtime

ARTICLE = {"title": "Reset your password", "body": "Open **Settings**, then *Security*.", "category": "Account",
           "language": "en", "published": False}


async def test_slugs_are_unique_follow_the_title_until_published_then_stay(runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    trainer = await hub.accounts.create("tia", "trainer password", roles=[Role.TRAINER])
    kb = hub.knowledge
    first = await kb.create(**ARTICLE, actor=trainer)
    second = await kb.create(**ARTICLE, actor=trainer)
    assert (first.slug, second.slug) == ("reset-your-password", "reset-your-password-2")
    renamed = await kb.update(first.id, title="Change your password", actor=trainer)
    assert renamed.slug == "change-your-password"  # never published: nobody has the link yet
    published = await kb.update(first.id, published=True, actor=trainer)
    retitled = await kb.update(first.id, title="Forgotten password?", actor=trainer)
    assert published.slug == retitled.slug == "change-your-password" and retitled.title == "Forgotten password?"
    assert (await kb.get_by_slug("change-your-password")).title == "Forgotten password?"  # type: ignore[union-attr]
    assert slugify("Ça coûte combien ? Prix & TVA") == "ca-coute-combien-prix-tva" and slugify("???") == "article"


async def test_revision_bumps_on_every_change_and_the_published_filter(runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    trainer = await hub.accounts.create("tia", "trainer password", roles=[Role.TRAINER])
    kb = hub.knowledge
    assert await kb.revision() == 0
    draft = await kb.create(**ARTICLE, actor=trainer)
    live = await kb.create(**{**ARTICLE, "title": "Shipping times", "body": "Two to three days.",
                              "category": "Orders", "published": True}, actor=trainer)
    german = await kb.create(**{**ARTICLE, "title": "Lieferzeiten", "body": "Zwei Tage.", "category": "Bestellungen",
                                "language": "de", "published": True}, actor=trainer)
    assert await kb.revision() == 3
    assert [a.id for a in await kb.published("en")] == [live.id]
    assert {a.id for a in await kb.published()} == {live.id, german.id}
    assert [a.id for a in await kb.list(published_only=True, query="DAYS")] == [live.id]
    assert [a.id for a in await kb.list(query="settings")] == [draft.id]
    assert [a.id for a in await kb.list(category="Orders")] == [live.id]
    assert len(await kb.list()) == 3 and len(await kb.list(limit=1)) == 1
    await kb.update(draft.id, published=True, actor=trainer)
    await kb.update(live.id, published=False, actor=trainer)
    assert [a.id for a in await kb.published("en")] == [draft.id]
    await kb.delete(german.id, actor=trainer)
    assert await kb.revision() == 6 and await kb.get(german.id) is None and await kb.get("nonsense") is None
    actions = [r["action"] for r in (await hub.audit.page(AuditQuery(limit=10))).entries]
    assert actions[:3] == ["kb.article_deleted", "kb.article_unpublished", "kb.article_published"]
    assert actions.count("kb.article_created") == 3


@pytest.mark.parametrize("change, reason", [
    ({"title": ""}, "title"), ({"title": "x" * 201}, "title"), ({"body": " "}, "body"),
    ({"body": "x" * 50_001}, "body"), ({"category": ""}, "category"), ({"language": "english"}, "language"),
    ({"published": "yes"}, "published"),
])
async def test_invalid_fields_are_refused_with_a_reason(runtime: Runtime, change: dict, reason: str) -> None:
    hub = runtime.hub
    assert hub is not None
    with pytest.raises(ArticleError, match=reason):
        await hub.knowledge.create(**{**ARTICLE, **change}, actor=None)
    assert await hub.knowledge.revision() == 0


async def test_feedback_counts_once_per_visitor_and_only_for_published_articles(runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    kb = hub.knowledge
    draft = await kb.create(**ARTICLE, actor=None)
    assert await kb.feedback(draft.id, "visitor-a", True) is False
    live = await kb.update(draft.id, published=True, actor=None)
    for visitor, helpful in (("visitor-a", True), ("visitor-a", True), ("visitor-b", True), ("visitor-c", False),
                             ("visitor-b", False)):
        assert await kb.feedback(live.id, visitor, helpful)
    counted = await kb.get(live.id)
    assert counted is not None and (counted.helpful, counted.not_helpful) == (1, 2)
