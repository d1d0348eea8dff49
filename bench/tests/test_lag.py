from kafka import TopicPartition

from bench.lag import LagSample, LagSeries, group_lag, group_topics, partition_lag


def test_a_group_that_read_a_transactional_partition_to_its_end_has_no_lag() -> None:
    # the relay's commit marker sits at offset 41; the group committed after the record at 40
    assert partition_lag(end=42, committed=41, ends_with_marker=True) == 0


def test_records_past_the_commit_are_lag_less_the_trailing_marker() -> None:
    assert partition_lag(end=42, committed=30, ends_with_marker=True) == 11
    assert partition_lag(end=42, committed=30, ends_with_marker=False) == 12


def test_a_commit_read_after_a_newer_end_is_no_negative_lag() -> None:
    assert partition_lag(end=10, committed=12, ends_with_marker=False) == 0
    assert partition_lag(end=10, committed=10, ends_with_marker=True) == 0


def test_group_lag_sums_its_partitions_and_counts_uncommitted_ones_from_the_log_start() -> None:
    main = [TopicPartition("payment-events", p) for p in range(2)]
    retry = TopicPartition("payment-events.ledger-poster.retry.1", 0)
    partitions = [*main, retry]
    ends = {main[0]: 100, main[1]: 50, retry: 7}
    beginnings = {main[0]: 0, main[1]: 20, retry: 5}
    committed = {main[0]: 99}

    lag = group_lag(partitions, ends, beginnings, committed)

    # main[0] caught up (marker), main[1] never committed: 50 - 20 - marker, retry: 7 - 5
    assert lag == 0 + 29 + 2


def test_each_group_reads_its_topic_and_its_retry_tiers_but_not_its_dead_letters() -> None:
    groups = group_topics()

    assert groups["ledger-poster"] == [
        "payment-events",
        "payment-events.ledger-poster.retry.1",
        "payment-events.ledger-poster.retry.2",
        "payment-events.ledger-poster.retry.3",
    ]
    assert set(groups) >= {"payment-psp-charger", "payment-status-applier", "settlement-itemizer"}
    assert not any(topic.endswith(".dlq") for topics in groups.values() for topic in topics)


def test_a_series_gives_each_groups_worst_and_last_lag() -> None:
    series = LagSeries(
        [
            LagSample(1.0, {"a": 0, "b": 3}),
            LagSample(2.0, {"a": 40, "b": 1}),
            LagSample(3.0, {"a": 2, "b": 0}),
        ]
    )

    assert series.groups() == ["a", "b"]
    assert (series.max_lag("a"), series.final_lag("a")) == (40, 2)
    assert (series.max_lag("b"), series.final_lag("b")) == (3, 0)
    assert LagSeries().final_lag("a") is None
