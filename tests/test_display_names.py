"""hub.display: what agents and canned responses call a customer, one fallback step at a time."""

from __future__ import annotations

from hub.display import author_name, display_name, first_name, human_name, visitor_number
from hub.store import ObjectId

VISITOR_ID = "demo:visitor:Bpoza3o70knmaSI4"


def contact(**fields: object) -> dict[str, object]:
    return {"_id": ObjectId("0123456789abcdef01234567"), "number": 4821, "emails": [], "phones": [],
            "identities": [{"channel": "widget", "external_id": VISITOR_ID}], **fields}


def test_a_name_the_customer_gave_comes_first() -> None:
    assert display_name(contact(name="Ada Lovelace", emails=["ada@example.com"])) == "Ada Lovelace"
    assert first_name(contact(name="  Ada Lovelace ")) == "Ada"


def test_without_a_name_a_verified_email_then_a_typed_one() -> None:
    assert display_name(contact(name=None, emails=["ada@example.com"], claimed_email="x@example.com")) \
        == "ada@example.com"
    assert display_name(contact(name="", claimed_email="ada@example.org")) == "ada@example.org"


def test_without_name_or_email_a_phone_number() -> None:
    assert display_name(contact(name=None, phones=["+14155550123"])) == "+14155550123"


def test_without_anything_a_visitor_number_never_the_id() -> None:
    assert display_name(contact(name=None)) == "Visitor 4821"


def test_a_stored_name_that_is_an_internal_id_is_ignored() -> None:
    """Contacts created before this fix were named after their identity (`demo:visitor:...`, a Telegram id)."""
    legacy = contact(name=VISITOR_ID)
    assert human_name(legacy) is None
    assert display_name(legacy) == "Visitor 4821"
    telegram = contact(name="193847", identities=[{"channel": "telegram", "external_id": "193847"}])
    assert display_name(telegram) == "Visitor 4821"
    assert first_name(legacy, "there") == "there"


def test_contacts_older_than_numbering_get_a_stable_four_digit_number() -> None:
    old = contact(name=VISITOR_ID)
    del old["number"]
    first = visitor_number(old)
    assert 1000 <= first <= 9999
    assert visitor_number(dict(old)) == first
    other = {**old, "_id": ObjectId("0123456789abcdef01234568")}
    assert display_name(old) == f"Visitor {first}" and display_name(other).startswith("Visitor ")


def test_first_name_falls_back_to_the_configured_word_not_an_address() -> None:
    assert first_name(contact(name=None, emails=["ada@example.com"])) == "there"
    assert first_name(contact(name=None), "friend") == "friend"
    assert first_name(None) == "there"


def test_a_message_author_shown_by_name_unless_it_was_stored_as_an_id() -> None:
    assert author_name("Ada", contact(name=None)) == "Ada"
    assert author_name(VISITOR_ID, contact(name=None)) == "Visitor 4821"
    assert author_name(None, contact(name="Ada Lovelace")) == "Ada Lovelace"
