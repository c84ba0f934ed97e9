from __future__ import annotations

import pytest

from bot.training_data import TrainingDataError, dump_nlu, parse_example, parse_nlu

NLU = """
version: "3.1"
nlu:
- intent: order_status
  examples: |
    - where is order [12345](order_number)?
    - track [A991](order_number) and [B22]{"entity": "order_number"} please
    - my parcel
- intent: shipping
  examples: |
    - ship to [the US](country:United States)
    - ship to [Britain]{"entity": "country", "value": "United Kingdom"}
- regex: order_number
  examples: |
    - \\b\\d{5}\\b
- lookup: country
  examples: |
    - Canada
    - France
- synonym: United States
  examples: |
    - USA
    - America
"""


def test_paren_annotation_is_stripped_with_offsets() -> None:
    text, spans = parse_example("where is order [12345](order_number)?")
    assert text == "where is order 12345?"
    assert spans == [(15, 20, "order_number", "12345")]
    assert text[15:20] == "12345"


def test_json_annotation_and_several_per_example() -> None:
    text, spans = parse_example('track [A991](order_number) and [B22]{"entity": "order_number"} please')
    assert text == "track A991 and B22 please"
    assert [(text[s:e], t) for s, e, t, _ in spans] == [("A991", "order_number"), ("B22", "order_number")]


def test_brackets_without_annotation_are_left_alone() -> None:
    assert parse_example("price [approx] is 5") == ("price [approx] is 5", [])


def test_parse_nlu_intents_regex_lookup_synonyms() -> None:
    doc = parse_nlu(NLU)
    data = doc.data
    assert data.intents["order_status"][2] == "my parcel"
    assert data.intents["shipping"] == ["ship to the US", "ship to Britain"]
    assert data.regexes == {"order_number": [r"\b\d{5}\b"]}
    assert data.lookups == {"country": ["Canada", "France"]}
    assert ("order_status", "where is order 12345?", 15, 20, "order_number") in data.annotations
    assert len(data.annotations) == 5
    # annotation values become synonyms, merged with the synonym: entries
    assert doc.synonyms["United States"] == ["the US", "USA", "America"]
    assert doc.synonyms["United Kingdom"] == ["Britain"]


def test_round_trip_keeps_data_equal() -> None:
    doc = parse_nlu(NLU)
    text = dump_nlu(doc.data, doc.synonyms)
    again = parse_nlu(text)
    assert again.data == doc.data
    assert again.synonyms == doc.synonyms
    assert "[12345](order_number)" in text
    assert "examples: |" in text


def test_examples_as_yaml_list_are_accepted() -> None:
    doc = parse_nlu("nlu:\n- intent: greet\n  examples:\n  - hi\n  - hello\n")
    assert doc.data.intents == {"greet": ["hi", "hello"]}


@pytest.mark.parametrize(
    "bad",
    ["- just a list", "nlu: {intent: x}", "nlu:\n- just a string\n"],
)
def test_malformed_files_raise_a_clear_error(bad: str) -> None:
    with pytest.raises(TrainingDataError):
        parse_nlu(bad)
