import base64
import csv
import io
import itertools
import json
import math

import pytest

from bench.capacity.kafka_baseline import KafkaResult
from bench.capacity.pgbench import PgbenchResult, parse_pgbench
from bench.capacity.report import CapacityReport, RoundFigures, median, ratio
from bench.capacity.run import rotated
from bench.capacity.vegeta import AttackResult, Target, parse_results, target_lines

# What `vegeta encode --to=csv` printed for a real attack (response headers cut short).
VEGETA_CSV = """\
1796148358000000000,201,20000000,71,120,,,,0,POST,http://127.0.0.1:1/v1/payments,Q2FjaGU=
1796148358010000000,201,40000000,71,120,,,,1,POST,http://127.0.0.1:1/v1/payments,Q2FjaGU=
1796148358020000000,429,5000000,71,90,,,,2,POST,http://127.0.0.1:1/v1/payments,Q2FjaGU=
1796148358030000000,201,970000000,71,120,,,,3,POST,http://127.0.0.1:1/v1/payments,Q2FjaGU=
1796148358040000000,0,12723688,0,0,"Post ""http://127.0.0.1:1/v1/payments"": dial tcp 0.0.0.0:0->\
127.0.0.1:1: connect: connection refused",,,4,POST,http://127.0.0.1:1/v1/payments,
1796148358050000000,0,822251,0,0,no targets to attack,,,5,,,
"""

PGBENCH_15 = """\
pgbench (15.18 (Debian 15.18-0+deb12u1))
transaction type: /tmp/insert.sql
scaling factor: 1
query mode: simple
number of clients: 16
number of threads: 2
maximum number of tries: 1
duration: 2 s
number of transactions actually processed: 10698
number of failed transactions: 0 (0.000%)
latency average = 2.770 ms
initial connection time = 164.970 ms
tps = 5775.441256 (without initial connection time)
"""


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_vegeta_results_count_2xx_with_their_latencies_and_everything_else_by_status() -> None:
    result = parse_results(_rows(VEGETA_CSV))

    assert result.successes == 3
    assert result.success_latencies == [0.02, 0.04, 0.97]
    assert result.failures == {"429": 1, "connection refused": 1}
    assert result.answers["201"] == 3


def test_vegeta_throughput_runs_from_the_first_send_to_the_last_answer() -> None:
    result = parse_results(_rows(VEGETA_CSV))

    # first send at ...58.000, last answer at ...58.030 + 0.970 = one second later
    assert result.elapsed == pytest.approx(1.0)
    assert result.success_per_second == pytest.approx(3.0)


def test_an_attack_with_no_requests_has_no_rate_and_no_latency() -> None:
    result = parse_results([])

    assert result.success_per_second == 0.0
    assert result.latency() is None


def test_every_target_line_carries_its_own_idempotency_key_and_goes_round_the_targets() -> None:
    targets = [
        Target("http://a.test/v1/payments", {"amount": 1500}, {"Authorization": "Bearer a"}),
        Target("http://a.test/v1/payments", {"amount": 1500}, {"Authorization": "Bearer b"}),
    ]

    lines = [json.loads(line) for line in itertools.islice(target_lines(targets), 6)]

    keys = [line["header"]["Idempotency-Key"][0] for line in lines]
    assert len(set(keys)) == 6
    assert [line["header"]["Authorization"] for line in lines] == [["Bearer a"], ["Bearer b"]] * 3
    assert {line["method"] for line in lines} == {"POST"}
    assert json.loads(base64.b64decode(lines[0]["body"])) == {"amount": 1500}
    assert lines[0]["header"]["Content-Type"] == ["application/json"]


def test_pgbench_output_gives_transactions_failures_tps_and_mean_latency() -> None:
    assert parse_pgbench(PGBENCH_15) == PgbenchResult(
        transactions=10698, failed=0, tps=5775.441256, latency_average_ms=2.77
    )


def test_pgbench_output_without_figures_is_refused() -> None:
    with pytest.raises(ValueError, match="tps"):
        parse_pgbench(PGBENCH_15.replace("tps = ", "tps: "))


def test_medians_skip_rounds_without_a_figure_and_ratios_need_a_positive_whole() -> None:
    assert median([3.0, None, 1.0, 2.0]) == 2.0
    assert median([None]) is None
    assert ratio(350.0, 1000.0) == 0.35
    assert ratio(350.0, 0.0) is None
    assert ratio(None, 1000.0) is None


def test_each_round_starts_one_place_further_along() -> None:
    order = ("bare", "payment", "gateway", "pgbench")

    assert [rotated(order, n)[0] for n in range(5)] == [
        "bare",
        "payment",
        "gateway",
        "pgbench",
        "bare",
    ]
    assert sorted(rotated(order, 2)) == sorted(order)


def _figures(target: str, number: int, per_second: float) -> RoundFigures:
    return RoundFigures(target, number, per_second, 10.0, 50.0, 100, 100, {})


def _report() -> CapacityReport:
    report = CapacityReport(seconds=10, rounds=3, connections=16, load_generator="vegeta")
    for number, (bare, payment, gateway) in enumerate(
        [(1000.0, 500.0, 400.0), (800.0, 600.0, 300.0), (1200.0, 700.0, 600.0)], start=1
    ):
        report.http += [
            _figures("bare", number, bare),
            _figures("payment", number, payment),
            _figures("gateway", number, gateway),
        ]
    report.pgbench = [PgbenchResult(1000, 0, tps, 3.0) for tps in (4000.0, 5000.0, 4500.0)]
    report.kafka = KafkaResult(20_000, 1024, 20_000, 4.0, 20_000, 2.0)
    return report


def test_ratios_compare_the_medians_and_each_round_with_itself() -> None:
    report = _report()

    assert report.medians("bare").success_per_second == 1000.0
    assert report.ratios() == {"payment/bare": 0.6, "gateway/bare": 0.4}
    assert report.ratios_by_round() == {
        "payment/bare": [0.5, 0.75, 0.583],
        "gateway/bare": [0.4, 0.375, 0.5],
    }


def test_the_record_is_plain_json_with_every_round_and_the_medians() -> None:
    record = json.loads(json.dumps(_report().record()))

    assert [r["success_per_second"] for r in record["http"]["payment"]["rounds"]] == [
        500.0,
        600.0,
        700.0,
    ]
    assert record["http"]["gateway"]["median"]["success_per_second"] == 400.0
    assert record["pgbench"]["median_tps"] == 4500.0
    assert record["kafka"]["produced_per_second"] == 5000.0
    assert record["kafka"]["consumed_per_second"] == 10000.0
    assert all(math.isfinite(value) for value in record["ratios"].values())


def test_the_table_says_whether_the_targets_are_met() -> None:
    table = _report().table()

    assert "payment/bare: 0.60 (rounds: 0.50, 0.75, 0.58)" in table
    assert "payment/bare >= 0.7: not met; gateway >= 500/s: not met" in table
    assert "pgbench single-row inserts: 4500.0 tps median" in table
    assert "produce 5000 msg/s, consume 10000 msg/s" in table


def test_a_target_with_no_2xx_has_no_ratio_and_the_table_says_so() -> None:
    report = CapacityReport(seconds=1, rounds=1, connections=16, load_generator="vegeta")
    failed = RoundFigures.of("bare", 1, AttackResult())
    report.http = [failed, _figures("payment", 1, 10.0), _figures("gateway", 1, 10.0)]

    assert report.ratios() == {"payment/bare": None, "gateway/bare": None}
    assert "payment/bare >= 0.7: no figure" in report.table()


def test_cpu_per_answer_is_the_median_over_rounds_of_each_process_busiest_first() -> None:
    report = CapacityReport(seconds=10, rounds=3, connections=16, load_generator="vegeta")
    for number, (api, database) in enumerate([(0.30, 0.10), (0.50, 0.20), (0.40, 0.90)], 1):
        report.http.append(
            RoundFigures(
                "payment",
                number,
                10.0,
                10.0,
                50.0,
                100,
                100,
                {},
                {"payment-api": api, "postgres": database},
            )
        )

    per = report.cpu_ms_per_success("payment")

    # 100 answers a round: payment-api 3, 5, 4 ms -> 4; postgres 1, 2, 9 ms -> 2
    assert per == {"payment-api": 4.0, "postgres": 2.0}
    assert "CPU ms per payment 2xx: 6.00 in all (payment-api 4.00, postgres 2.00)" in (
        report.table()
    )
    assert report.record()["cpu_ms_per_success"]["payment"] == per
