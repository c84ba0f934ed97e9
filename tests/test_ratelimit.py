"""The per-process request limiter (httpkit.ratelimit): sliding-window counts, waits, memory bounds."""

from __future__ import annotations

import pytest

from httpkit.ratelimit import RateLimiter, Rule, address_key, admit, give_back, retry_after_seconds, rules_from
from tests.helpers import StoppedClock


def test_a_key_gets_its_count_then_waits_as_long_as_it_is_told() -> None:
    clock = StoppedClock(1_000.25)  # a quarter into a window of 10 s (windows start at multiples of 10)
    limiter = RateLimiter([Rule(3, 10)], clock=clock)
    for _ in range(3):
        assert admit([(limiter, "chat")]) == 0
    wait = admit([(limiter, "chat")])
    assert 0 < wait <= 20
    clock.now += wait * 0.95
    assert limiter.wait("chat") > 0  # not early
    clock.now += wait * 0.05 + 1e-6
    assert admit([(limiter, "chat")]) == 0  # not late either: at the time it was told
    assert admit([(limiter, "other chat")]) == 0  # one key's count is its own


def test_the_previous_window_weighs_as_much_as_the_sliding_window_still_covers_it() -> None:
    clock = StoppedClock(1_009.0)
    limiter = RateLimiter([Rule(10, 10)], clock=clock)
    for _ in range(10):
        limiter.count("chat")
    clock.now = 1_010.0  # the next window starts: the 10 still weigh fully
    assert limiter.wait("chat") == pytest.approx(1.0)  # at 1,011 they weigh 9: one more fits
    clock.now = 1_015.0  # half of the window gone: they weigh 5
    for _ in range(5):
        assert admit([(limiter, "chat")]) == 0
    assert limiter.wait("chat") > 0  # 5 + 5 and one more would be 11
    clock.now = 1_030.0  # two windows later nothing is left
    assert limiter.wait("chat") == 0


def test_the_strictest_rule_decides_and_a_refusal_counts_nowhere() -> None:
    clock = StoppedClock(2_000.0)
    chat = RateLimiter([Rule(2, 10), Rule(100, 3_600)], clock=clock)
    address = RateLimiter([Rule(3, 60)], clock=clock)
    assert admit([(chat, "a"), (address, "1.2.3.4")]) == 0
    assert admit([(chat, "a"), (address, "1.2.3.4")]) == 0
    assert admit([(chat, "a"), (address, "1.2.3.4")]) > 0  # the chat's 2 in 10 s
    assert admit([(chat, "b"), (address, "1.2.3.4")]) == 0  # the chat's refusal did not use the address's third
    wait = admit([(chat, "c"), (address, "1.2.3.4")])
    assert wait > 10  # now the address's rule of a minute decides
    assert chat.wait("c") == 0  # and "c" was not counted
    assert admit([(RateLimiter([]), "anything")] * 50) == 0  # no rules: no limit


def test_an_admission_given_back_does_not_count_even_across_a_window() -> None:
    clock = StoppedClock(3_009.0)
    chat, address = RateLimiter([Rule(2, 10)], clock=clock), RateLimiter([Rule(5, 60)], clock=clock)
    checks = [(chat, "a"), (address, "1.2.3.4")]
    assert admit(checks) == 0 and admit(checks) == 0
    assert chat.wait("a") > 0
    give_back(checks)  # the second was not taken after all
    assert chat.wait("a") == 0 and admit(checks) == 0
    clock.now = 3_010.5  # the next window: the count given back now is the previous window's
    give_back(checks)
    assert chat._counts["a"][0][1:] == [0, 1] and address._counts["1.2.3.4"][0][1] == 1
    give_back([(chat, "never counted")])  # nothing to give back: nothing happens
    assert "never counted" not in chat._counts


def test_counters_whose_windows_passed_are_forgotten_and_the_keys_are_bounded() -> None:
    clock = StoppedClock(5_000.0)
    limiter = RateLimiter([Rule(5, 10)], clock=clock, max_keys=1_000)
    for n in range(500):
        limiter.count(f"visitor-{n}")
    clock.now += 10
    limiter.count("visitor-7")  # counted again: it moves behind the others
    assert len(limiter) == 500  # one window later the others still weigh
    clock.now += 10  # both windows of the 499 are over, not of visitor-7's latest count
    limiter.count("late")
    assert len(limiter) == 2 and limiter.wait("visitor-7") == 0
    # A flood of new keys within one window: past the bound the least recently counted go, never the newest.
    for n in range(3_000):
        limiter.count(f"flood-{n}")
        if n == 2_500:
            limiter.count("late")  # still talking: kept
    assert len(limiter) == 1_000
    assert "late" in limiter._counts and "visitor-7" not in limiter._counts
    assert "flood-2999" in limiter._counts and "flood-0" not in limiter._counts


def test_rules_come_from_configuration_or_the_hub_refuses_to_start() -> None:
    assert rules_from([{"messages": 10, "seconds": 10}, {"requests": 30, "seconds": 60.5}], "x") == (
        Rule(10, 10.0), Rule(30, 60.5))
    assert rules_from([], "x") == () and rules_from(None, "x") == ()
    for wrong in ("10/minute", [{"messages": 0, "seconds": 10}], [{"messages": 5}], [{"messages": 5, "seconds": -1}],
                  [{"messages": True, "seconds": 10}], [{"messages": 2.5, "seconds": 10}], ["10 per minute"]):
        with pytest.raises(ValueError, match=r"rate_limits\.per_chat"):
            rules_from(wrong, "rate_limits.per_chat")


def test_addresses_are_keyed_by_host_and_ipv6_by_its_network() -> None:
    assert address_key("203.0.113.9") == "203.0.113.9"
    assert address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:203.0.113.9") == "203.0.113.9"
    assert address_key(None) == "?"
    assert retry_after_seconds(0.2) == 1 and retry_after_seconds(4.01) == 5
