"""Each desk user's saved views of the ticket list: a name and the list's filters ("Urgent billing, unassigned").

Chatwoot's saved filters and Zammad's overviews: an agent who works the same slice of the desk every morning picks it
by name instead of setting five filters. Views are per user, kept in `saved_views` (one document per user, `_id`: the
user's id, read and written by `_id` alone), at most MAX_VIEWS, names distinct. What a filter may hold is checked by
the list's own query parser when the views are saved (agents_ui.desk), so a saved view always loads.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.models import utcnow
from hub.store import ObjectId, Store

MAX_VIEWS = 20
MAX_NAME = 60
#: The list's query parameters a view keeps (the sidebar's queue among them).
FILTERS = ("q", "assignee", "following", "status", "channel", "priority", "sla", "tag", "sort", "queue", "field")


class ViewError(ValueError):
    """Views that cannot be kept as given; the message says why."""


@dataclass(frozen=True)
class SavedView:
    name: str
    filters: dict[str, str]

    def public(self) -> dict[str, object]:
        return {"name": self.name, "filters": self.filters}


def checked(views: list[SavedView]) -> list[SavedView]:
    """Names trimmed, 1 to MAX_NAME characters and distinct (ignoring case); empty filters left out."""
    if len(views) > MAX_VIEWS:
        raise ViewError(f"at most {MAX_VIEWS} saved views")
    out: list[SavedView] = []
    seen: set[str] = set()
    for view in views:
        name = " ".join(view.name.split())
        if not name or len(name) > MAX_NAME:
            raise ViewError(f"a view's name is 1 to {MAX_NAME} characters")
        if name.casefold() in seen:
            raise ViewError(f"two views are called {name!r}")
        seen.add(name.casefold())
        unknown = set(view.filters) - set(FILTERS)
        if unknown:
            raise ViewError(f"a view keeps only the list's filters, not {', '.join(sorted(unknown))}")
        out.append(SavedView(name, {k: v.strip() for k, v in view.filters.items() if v.strip()}))
    return out


class SavedViews:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def of(self, user_id: ObjectId) -> list[SavedView]:
        doc = await self.store.saved_views.find_one({"_id": user_id})
        return [SavedView(v["name"], dict(v.get("filters") or {})) for v in (doc or {}).get("views") or []]

    async def keep(self, user_id: ObjectId, views: list[SavedView]) -> list[SavedView]:
        """Replace the user's views with `views` (checked); the views as kept."""
        kept = checked(views)
        await self.store.saved_views.update_one(
            {"_id": user_id}, {"$set": {"views": [v.public() for v in kept], "updated_at": utcnow()}}, upsert=True)
        return kept
