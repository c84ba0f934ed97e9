"""hub.numbers: ticket and contact numbers from blocks reserved with one counter command each."""

from __future__ import annotations

import asyncio

from hub.numbers import NumberBlocks
from hub.store import Store
from switchboard.config import Settings


async def test_two_processes_hand_out_unique_numbers_increasing_in_each(settings: Settings) -> None:
    """Two stores (two processes) draw at once: no number twice, each one's numbers increase, and the
    counter covers every number handed out (the ticket list walks down from it)."""
    first, second = Store(settings.mongodb_uri, settings.db_name), Store(settings.mongodb_uri, settings.db_name)
    try:
        # the counter exists before the race (secantusd-py may answer None to racing upserts: a gap)
        drawn = [await first.next_number("ticket")]
        drawn += await asyncio.gather(*(s.next_number("ticket") for _ in range(40) for s in (second, first)))
        mine = [drawn[0]] + [drawn[i] for i in range(2, len(drawn), 2)]
        theirs = [drawn[i] for i in range(1, len(drawn), 2)]
        assert len(set(drawn)) == len(drawn) == 81
        assert mine == sorted(mine) and theirs == sorted(theirs)
        counter = await first.counters.find_one({"_id": "ticket"})
        assert counter is not None and counter["seq"] >= max(drawn)
        # 41 and 40 numbers from blocks of 16: 3 reservations each, not 81
        assert counter["seq"] == 2 * 3 * first.numbers.sizes["ticket"]
        assert await first.next_number("model") == 1 and await second.next_number("model") == 2  # one at a time
    finally:
        await first.client.drop_database(settings.db_name)
        await first.client.close()
        await second.client.close()


async def test_an_old_block_is_dropped_so_order_across_processes_stays_close() -> None:
    calls: list[int] = []
    counter = 0

    async def increment(_name: str, by: int) -> int:
        nonlocal counter
        calls.append(by)
        counter += by
        return counter

    blocks = NumberBlocks(increment, sizes={"ticket": 4}, max_age_seconds=0.0)
    assert [await blocks.take("ticket") for _ in range(3)] == [1, 5, 9]  # every block expired at once
    blocks = NumberBlocks(increment, sizes={"ticket": 4})
    assert [await blocks.take("ticket") for _ in range(5)] == [13, 14, 15, 16, 17]
    assert calls == [4, 4, 4, 4, 4]
