from __future__ import annotations

import re

from payevents import CATALOGUE, physical_topics, topic


def test_retry_and_dlq_names_follow_topic_group_convention() -> None:
    names = {spec.name for spec in physical_topics()}

    for entry in CATALOGUE:
        for group in entry.consumers:
            tiers = range(1, len(group.retry_delays) + 1)
            assert {f"{entry.name}.{group.name}.retry.{n}" for n in tiers} <= names
            assert f"{entry.name}.{group.name}.dlq" in names


def test_every_physical_topic_is_a_main_retry_or_dlq_topic() -> None:
    main = "|".join(re.escape(entry.name) for entry in CATALOGUE)
    shape = re.compile(rf"({main})(\.[a-z0-9-]+\.(retry\.[1-9][0-9]*|dlq))?")

    assert all(shape.fullmatch(spec.name) for spec in physical_topics())


def test_physical_topic_names_are_unique() -> None:
    names = [spec.name for spec in physical_topics()]

    assert len(names) == len(set(names))


def test_topics_are_found_by_name() -> None:
    assert topic("payment-events").key == "payment id"
