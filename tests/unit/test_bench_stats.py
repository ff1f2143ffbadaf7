"""The benchmark's statistics: percentiles, summaries, best rounds, ratios."""
import pytest

from messaging.bench import stats


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert stats.percentile(values, 0.5) == 50.0
    assert stats.percentile(values, 0.99) == 99.0
    assert stats.percentile(values, 1.0) == 100.0


def test_percentile_of_unsorted_values_sorts_them():
    assert stats.percentile([3.0, 1.0, 2.0], 0.5) == 2.0


def test_percentile_of_nothing_is_none():
    assert stats.percentile([], 0.5) is None


def test_percentile_refuses_a_fraction_out_of_range():
    with pytest.raises(ValueError):
        stats.percentile([1.0], 1.5)


def test_summary_has_rate_and_latencies_in_milliseconds():
    summary = stats.summarize({'count': 4, 'seconds': 2.0,
                               'latencies': [0.001, 0.002, 0.003, 0.004]})
    assert summary['rate'] == 2.0
    assert summary['p50_ms'] == pytest.approx(2.0)
    assert summary['p99_ms'] == pytest.approx(4.0)
    assert summary['max_ms'] == pytest.approx(4.0)


def test_summary_without_latencies_has_only_the_rate():
    assert stats.summarize({'count': 10, 'seconds': 5.0}) == {'count': 10, 'rate': 2.0}


def test_best_round_is_the_fastest():
    assert stats.best_of([{'rate': 1.0}, {'rate': 3.0}, {'rate': 2.0}]) == {'rate': 3.0}


def test_ratio_is_none_when_a_side_is_missing():
    assert stats.ratio(6.0, 2.0) == 3.0
    assert stats.ratio(None, 2.0) is None
    assert stats.ratio(1.0, 0.0) is None


def test_summary_has_the_cpu_per_message_of_every_process_and_thread():
    run = {'count': 1000, 'seconds': 2.0, 'latencies': [0.002] * 1000,
           'cpu': {'client': {'seconds': 0.4, 'threads': {'MainThread': 0.3,
                                                          'rabbit-reply-waiter': 0.1}},
                   'server': {'seconds': 0.5, 'threads': {'rabbit-io': 0.2,
                                                          'messaging-worker': 0.2}}}}
    summary = stats.summarize(run)
    assert summary['cpu_us'] == pytest.approx(900.0)
    assert summary['cpu_us_by_process'] == pytest.approx({'client': 400.0, 'server': 500.0})
    assert summary['cpu_us_by_thread'] == pytest.approx({
        'client: MainThread': 300.0, 'client: rabbit-reply-waiter': 100.0,
        'server: rabbit-io': 200.0, 'server: messaging-worker': 200.0})


def test_summary_without_cpu_times_has_no_cpu_figures():
    assert 'cpu_us' not in stats.summarize({'count': 10, 'seconds': 1.0, 'cpu': {}})
