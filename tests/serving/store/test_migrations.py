"""Migrations on a store that already holds leads: 0002 backfills the rank probability and
its queue indexes replace the old one, 0005 adds the outlook and the expected-value index;
each downgrades cleanly; on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import command

from serving.store.tables import alembic_config, make_engine, migrate

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _lead(i: int, probability: float | None, in_queue: bool) -> dict[str, object]:
    return {
        "external_id": f"old-{i}",
        "arrived_at": NOW,
        "channel": "seo",
        "source": {"channel": "seo"},
        "record": {"external_id": f"old-{i}"},
        "status": "new",
        "stage_reached": "lead",
        "sla_deadline": NOW + timedelta(minutes=30),
        "in_queue": in_queue,
        "probability": probability,
        "created_by": "sdr-0",
        "created_at": NOW,
        "updated_at": NOW,
    }


def _indexes(engine: sa.Engine) -> set[str]:
    return {index["name"] or "" for index in sa.inspect(engine).get_indexes("leads")}


def test_0002_backfills_the_rank_probability_and_swaps_the_indexes(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        migrate(engine, "0001")
        leads = sa.Table("leads", sa.MetaData(), autoload_with=engine)
        probabilities = [0.25, None, 0.0, 0.9, None]
        with engine.begin() as connection:
            connection.execute(
                leads.insert(),
                [_lead(i, p, in_queue=i != 3) for i, p in enumerate(probabilities)],
            )
        assert "ix_leads_queue" in _indexes(engine)
        migrate(engine)
        with engine.connect() as connection:
            stored = connection.execute(
                sa.text("SELECT probability, rank_probability FROM leads ORDER BY id")
            ).all()
        assert stored == [(p, 1.0 if p is None else p) for p in probabilities]
        indexes = _indexes(engine)
        assert {"ix_leads_queue_probability", "ix_leads_queue_deadline"} <= indexes
        assert "ix_leads_queue" not in indexes

        config = alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0001")
        columns = {column["name"] for column in sa.inspect(engine).get_columns("leads")}
        assert "rank_probability" not in columns
        assert "ix_leads_queue" in _indexes(engine)
        migrate(engine)
        assert "ix_leads_queue_probability" in _indexes(engine)
    finally:
        engine.dispose()


def test_0005_adds_the_outlook_and_the_value_index_to_a_store_with_leads(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    try:
        migrate(engine, "0004_exploration")
        leads = sa.Table("leads", sa.MetaData(), autoload_with=engine)
        with engine.begin() as connection:
            connection.execute(leads.insert(), [_lead(i, 0.5, in_queue=True) for i in range(3)])
        migrate(engine)
        with engine.connect() as connection:
            stored = connection.execute(
                sa.text("SELECT outlook, rank_value FROM leads ORDER BY id")
            ).all()
        assert stored == [(None, 0.0)] * 3  # no outlook yet: ranked after any lead with one
        assert "ix_leads_queue_value" in _indexes(engine)
        scores = {column["name"] for column in sa.inspect(engine).get_columns("scores")}
        assert {"outlook", "expected_value"} <= scores

        config = alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0004_exploration")
        columns = {column["name"] for column in sa.inspect(engine).get_columns("leads")}
        assert not {"outlook", "rank_value"} & columns
        assert "ix_leads_queue_value" not in _indexes(engine)
        migrate(engine)
        assert "ix_leads_queue_value" in _indexes(engine)
    finally:
        engine.dispose()
