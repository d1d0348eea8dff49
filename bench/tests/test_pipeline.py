import random

import pytest

from bench.driver import CreatedPayment
from bench.pipeline import (
    HOPS,
    Milestone,
    MilestoneEvent,
    SuccessPath,
    milestone_of,
    summarise,
)

from .conftest import JOURNEY, Journey


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def test_each_hop_is_the_time_between_its_two_points_and_together_they_make_the_end_to_end(
    journey: Journey,
) -> None:
    created, events = journey("PAY_a")

    summary = summarise([created], events)

    assert [hop.p50_ms for hop in summary.hops] == [
        40.0,  # gateway + API: send to payment.created committed
        50.0,  # payment relay
        210.0,  # charger: produced 0.090 to payment.processing committed 0.300
        400.0,  # PSP delay and webhook: 0.300 to 0.700
        60.0,  # webhook relay
        140.0,  # status applier: 0.760 to 0.900
        50.0,  # payment relay again
        250.0,  # ledger poster: 0.950 to 1.200
        30.0,  # ledger relay
        270.0,  # itemizer: 1.230 to 1.500
    ]
    assert [hop.name for hop in summary.hops] == [
        hop.name for hop in HOPS if hop.path is not SuccessPath.CHARGE_ANSWER
    ]
    assert summary.end_to_end_p50_ms == 1500.0
    assert summary.hop_p50_sum_ms == summary.end_to_end_p50_ms
    assert summary.hops[3].share_of_end_to_end == pytest.approx(400 / 1500, abs=0.001)


def test_a_payment_the_charge_answer_made_succeeded_skips_the_report_hops() -> None:
    # a PSP that decides at once: the charger commits processing and succeeded together, and
    # the PSP's report, published later, changes nothing
    created = CreatedPayment("PAY_now", sent_at=1_000.0, answered_at=1_000.05)
    times = {
        Milestone.CREATED: (0.040, 0.090),
        Milestone.CHARGED: (0.300, 0.320),
        Milestone.SUCCEEDED: (0.301, 0.330),
        Milestone.REPORTED: (0.500, 0.560),
        Milestone.POSTED: (0.600, 0.630),
        Milestone.ITEMISED: (0.800, 0.810),
    }
    events = [
        MilestoneEvent("PAY_now", milestone, 1_000.0 + committed, 1_000.0 + produced)
        for milestone, (committed, produced) in times.items()
    ]

    summary = summarise([created], events)

    hops = {hop.name: hop.p50_ms for hop in summary.hops}
    assert hops["charger: succeeded from the charge answer"] == 1.0
    assert not {name for name in hops if "PSP report" in name or "status applier" in name}
    assert "PSP outcome delay + webhook send + intake" not in hops
    assert all(ms >= 0 for ms in hops.values())
    assert summary.hop_p50_sum_ms == summary.end_to_end_p50_ms == 800.0


def test_stage_latency_counts_from_the_scheduled_send_over_every_created_payment(
    journey: Journey,
) -> None:
    made = [journey(f"PAY_{n}", sent_at=1_000.0 + n, slower=n * 0.01) for n in range(5)]

    summary = summarise([c for c, _ in made], [e for _, events in made for e in events])

    succeeded = summary.stages[0]
    assert succeeded.name == "succeeded"
    assert (succeeded.reached, succeeded.missing) == (5, 0)
    assert succeeded.latency is not None
    assert succeeded.latency.p50_ms == _ms(0.900 + 2 * 0.01 * 4)
    assert succeeded.latency.max_ms == _ms(0.900 + 4 * 0.01 * 4)


def test_a_payment_missing_a_stage_is_counted_missing_and_leaves_out_only_the_hops_it_lacks(
    journey: Journey,
) -> None:
    whole, whole_events = journey("PAY_whole")
    stuck, stuck_events = journey(
        "PAY_stuck", milestones=(Milestone.CREATED, Milestone.CHARGED, Milestone.REPORTED)
    )

    summary = summarise([whole, stuck], whole_events + stuck_events)

    stages = {stage.name: (stage.reached, stage.missing) for stage in summary.stages}
    assert stages == {"succeeded": (1, 1), "ledger posted": (1, 1), "settlement item": (1, 1)}
    counts = {hop.name: hop.count for hop in summary.hops}
    assert counts["webhook relay: PSP report produced"] == 2
    assert counts["status applier: payment.succeeded committed"] == 1
    assert summary.end_to_end_p50_ms == 1500.0


def test_a_payment_with_no_events_at_all_is_missing_from_every_stage(journey: Journey) -> None:
    created, _ = journey("PAY_lost")

    summary = summarise([created], [])

    assert [(s.reached, s.missing, s.latency) for s in summary.stages] == [(0, 1, None)] * 3
    assert summary.hops == []
    assert summary.end_to_end_p50_ms is None


def test_events_read_in_any_order_give_the_same_figures(journey: Journey) -> None:
    made = [journey(f"PAY_{n}", sent_at=1_000.0 + n / 10, slower=n * 0.003) for n in range(20)]
    created = [c for c, _ in made]
    events = [e for _, evs in made for e in evs]
    shuffled = events[:]
    random.Random(3).shuffle(shuffled)

    assert summarise(created, shuffled) == summarise(created, events)


def test_an_event_the_relay_published_twice_counts_once_at_its_first_send(
    journey: Journey,
) -> None:
    created, events = journey("PAY_twice")
    first = next(e for e in events if e.milestone is Milestone.SUCCEEDED)
    again = MilestoneEvent(
        first.payment_id, first.milestone, first.committed_at, first.produced_at + 2.0
    )

    summary = summarise([created], [again, *events, again])

    assert summary.stages[0].reached == 1
    relay = next(h for h in summary.hops if h.name == "payment relay: payment.succeeded produced")
    assert relay.p50_ms == 50.0
    assert summary.end_to_end_p50_ms == 1500.0


def test_events_about_payments_the_run_did_not_create_are_left_out(journey: Journey) -> None:
    created, events = journey("PAY_ours")
    _, others = journey("PAY_someone_elses", slower=5)

    assert summarise([created], events + others) == summarise([created], events)


def test_a_stage_rate_is_counted_from_its_first_to_its_last_event(journey: Journey) -> None:
    made = [journey(f"PAY_{n}", sent_at=1_000.0 + n * 0.1) for n in range(11)]

    summary = summarise([c for c, _ in made], [e for _, evs in made for e in evs])

    assert [stage.per_second for stage in summary.stages] == [10.0, 10.0, 10.0]


def test_a_payment_the_psp_failed_is_counted_as_failed() -> None:
    from bench.driver import CreatedPayment

    created = CreatedPayment("PAY_declined", sent_at=10.0, answered_at=10.1)
    failed = MilestoneEvent("PAY_declined", Milestone.FAILED, committed_at=10.5, produced_at=10.6)

    summary = summarise([created], [failed])

    assert summary.failed == 1
    assert summary.stages[0].missing == 1


@pytest.mark.parametrize(
    ("event_type", "data", "expected"),
    [
        ("payment.created", {"payment_id": "PAY_x"}, Milestone.CREATED),
        ("payment.processing", {}, Milestone.CHARGED),
        ("psp.payment_status_received", {"status": "succeeded"}, Milestone.REPORTED),
        ("psp.payment_status_received", {"status": "processing"}, None),
        ("ledger.transaction_posted", {"kind": "payment"}, Milestone.POSTED),
        ("ledger.transaction_posted", {"kind": "refund"}, None),
        ("settlement.item_created", {"kind": "payment"}, Milestone.ITEMISED),
        ("settlement.item_created", {"kind": "refund"}, None),
        ("refund.succeeded", {}, None),
    ],
)
def test_only_a_payments_own_facts_mark_its_milestones(
    event_type: str, data: dict[str, str], expected: Milestone | None
) -> None:
    assert milestone_of(event_type, data) is expected


def test_the_synthetic_journey_covers_every_hop() -> None:
    ends = {hop.end[0] for hop in HOPS}

    assert ends == set(JOURNEY)
