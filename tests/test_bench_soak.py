"""The soak in miniature, with real processes: two `switchboard serve` subprocesses on one database, customers
driving the widget from this process, the first hub SIGKILLed half-way and restarted. Every message the
generator sent is stored exactly once (its client ids, checked in the database)."""

from __future__ import annotations

import secrets

from pymongo import AsyncMongoClient

from switchboard import loadgen


async def test_soak_across_two_hub_processes_with_a_kill_loses_and_duplicates_nothing(mongo_uri: str) -> None:
    db_name = f"soak{secrets.token_hex(3)}"
    try:
        result = await loadgen.bench_soak(minutes=0.2, rate=3.0, uri=mongo_uri, db_name=db_name)
    finally:
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_uri)
        await client.drop_database(db_name)
        await client.close()
    assert result["killed_at_s"] is not None and result["restart_s"] is not None  # killed and back
    assert result["sent"] >= 30
    assert result["retried_sends"] >= 1  # customers of the killed hub had to send again, on the other one
    assert result["send_failed"] == 0
    assert result["lost"] == 0 and result["lost_acknowledged"] == 0
    assert result["duplicated"] == 0


def test_steps_parse_rates_and_closed_loop_customers() -> None:
    steps = loadgen.parse_steps("5, 12.5,c20")
    assert [(s.name, s.rate, s.concurrency) for s in steps] == [("open-5", 5.0, None), ("open-12.5", 12.5, None),
                                                                 ("closed-20", None, 20)]


def test_percentiles_are_nearest_rank() -> None:
    samples = [float(n) for n in range(1, 101)]
    assert (loadgen.percentile(samples, 50), loadgen.percentile(samples, 99)) == (50.0, 99.0)
    assert loadgen.percentile([], 50) is None
