"""The benchmark's goals as it checks and prints them."""
import pytest

from messaging.bench import goals


def _summary(rate, p99=None, cpu=None):
    summary = {'count': 10, 'rate': rate}
    if p99 is not None:
        summary.update(p50_ms=p99 / 2, p99_ms=p99, max_ms=p99 * 2)
    if cpu is not None:
        summary['cpu_us'] = cpu
    return summary


def _results(others=True):
    libraries = {'messaging': {'peak_rss_mb': 30.0, 'sizes': {'100': {
        'call': _summary(900.0, p99=1.0, cpu=650.0), 'concurrent_call': _summary(1200.0, p99=9.0),
        'cast': _summary(1900.0), 'notify': _summary(1700.0)}}}}
    if others:
        libraries['oslo_messaging'] = {'peak_rss_mb': 50.0, 'sizes': {'100': {
            'call': _summary(250.0, p99=4.0), 'concurrent_call': _summary(500.0, p99=30.0),
            'cast': _summary(900.0), 'notify': _summary(900.0)}}}
        libraries['amqp'] = {'peak_rss_mb': 20.0, 'sizes': {'100': {
            'call': _summary(1000.0, p99=0.8, cpu=500.0), 'cast': _summary(2000.0)}}}
    return {'threads': 8, 'libraries': libraries}


def test_every_goal_has_its_ratio_bound_and_verdict():
    entries = goals.workload_goals(_results())
    assert [(e['goal'], round(e['value'], 2), e['relation'], round(e['bound'], 2), e['met'])
            for e in entries] == [
        ('sequential call / bare round-trip floor', 0.9, '>=', 0.8, True),
        ('cast end to end / bare confirmed floor', 0.95, '>=', 0.9, True),
        ('notification end to end / bare confirmed floor', 0.85, '>=', 0.9, False),
        ('sequential calls ours / oslo', 3.6, '>=', 3.0, True),
        ('8-thread calls ours / oslo', 2.4, '>=', 3.0, False),
        ('p99 of sequential calls ours / oslo', 0.25, '<=', 0.33, True),
        ('CPU per sequential call / bare round-trip floor', 1.3, '<=', 1.3, True)]
    assert {e['size'] for e in entries} == {100}
    assert entries[-1]['bound'] == 1.3 and entries[-2]['bound'] == pytest.approx(1 / 3)
    assert (entries[0]['ours'], entries[0]['theirs'], entries[0]['figure']) == (
        900.0, 1000.0, 'rate')


def test_goals_without_the_other_libraries_say_which_option_measures_them():
    entries = goals.workload_goals(_results(others=False))
    assert [e['value'] for e in entries] == [None] * 7
    assert [e['missing'] for e in entries] == ['run with --bare'] * 3 + [
        'run with --compare oslo'] * 3 + ['run with --bare']
    lines = goals.format_goals(entries).splitlines()
    assert len(lines) == 7
    assert lines[0].split()[:2] == ['100', 'B']
    assert lines[0].endswith('not measured (run with --bare)')


def test_goal_lines_say_met_or_not_met():
    lines = goals.format_goals(goals.workload_goals(_results())).splitlines()
    assert [line.rsplit('  ', 1)[-1].strip() for line in lines] == [
        'met', 'met', 'not met', 'met', 'not met', 'met', 'met']
    words = [' '.join(line.split()) for line in lines]
    assert words[2].endswith('0.85 (1700/s / 2000/s) goal >= 0.9 not met')
    assert words[5].endswith('0.25 (1.00 ms / 4.00 ms) goal <= 0.333 met')
    assert words[6].endswith('1.30 (650 us / 500 us) goal <= 1.3 met')


def test_a_ratio_is_shown_rounded_away_from_its_bound():
    results = _results()
    results['libraries']['messaging']['sizes']['100']['cast'] = _summary(1799.9)
    results['libraries']['messaging']['sizes']['100']['call']['cpu_us'] = 650.1
    lines = goals.format_goals(goals.workload_goals(results)).splitlines()
    words = [' '.join(line.split()) for line in lines]
    assert words[1].endswith('0.89 (1800/s / 2000/s) goal >= 0.9 not met')
    assert words[6].endswith('1.31 (650 us / 500 us) goal <= 1.3 not met')


def _scale(servers=20, oslo=True):
    def library(threads, connections, one, across, threads_at_start):
        return {'threads': threads, 'connections': connections, 'rss_mb': 40.0,
                'start_seconds': 1.5, 'notify_seconds': 0.1,
                'after_start': {'threads': threads_at_start, 'connections': connections,
                                'rss_mb': 30.0},
                'one_server': _summary(one, p99=2.0), 'all_servers': _summary(across, p99=2.0)}

    libraries = {'messaging': library(30, 3, 1000.0, 950.0, threads_at_start=25)}
    if oslo:
        libraries['oslo_messaging'] = library(300, 60, 400.0, 300.0, threads_at_start=50)
    return {'servers': servers, 'count': 10, 'libraries': libraries}


def test_scale_goals_compare_threads_and_connections_and_the_spread_of_calls():
    entries = goals.scale_goals(_scale())
    assert [(e['goal'], round(e['value'], 2), e['met']) for e in entries] == [
        ('threads ours / oslo right after the start', 0.5, False),
        ('threads ours / oslo', 0.1, True),
        ('broker connections ours / oslo right after the start', 0.05, True),
        ('broker connections ours / oslo', 0.05, True),
        ('calls/s across 20 servers / to one (messaging)', 0.95, True),
        ('calls/s across 20 servers / to one (oslo_messaging)', 0.75, False)]


def test_scale_goals_of_ours_alone_leave_the_comparisons_unmeasured():
    entries = goals.scale_goals(_scale(oslo=False))
    assert [e['met'] for e in entries] == [None] * 4 + [True]
    assert 'not measured (run with --compare oslo)' in goals.format_goals(entries)
