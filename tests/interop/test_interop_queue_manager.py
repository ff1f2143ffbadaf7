"""Queue manager names shared by oslo.messaging and ``messaging`` processes
of one host: both draw from the same counter, so none gets a name another
process of the service holds."""
from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

from tests.functional.conftest import BrokerCleanup
from tests.functional.rabbit_helpers import queues_of, run_service
from tests.interop.harness import unique_name, with_query

pytestmark = [pytest.mark.interop, pytest.mark.timeout(300)]


@pytest.mark.parametrize('order', [('oslo', 'ours', 'oslo', 'ours'),
                                   ('ours', 'oslo', 'ours', 'oslo')],
                         ids=['oslo first', 'ours first'])
def test_processes_of_both_libraries_on_one_host_get_distinct_names(order, oslo_python,
                                                                    rabbit_url):
    host = 'qm-mixed-%s' % uuid.uuid4().hex[:8]
    topic, exchange = unique_name('qm_mixed'), unique_name('qmx')
    url = with_query(rabbit_url, 'use_queue_manager=true&processname=svc&hostname=' + host)
    cleanup = BrokerCleanup(rabbit_url)
    cleanup.exchange(exchange)
    cleanup.exchange(topic + '_fanout')
    cleanup.queue(topic)
    cleanup.queue(topic + '.s1')
    left = set()
    try:
        # Workers of one service: the same process group (ours), one after
        # the other, each its fanout queue at listen and its reply queue at
        # its first call.
        for lib in order:
            python, library = ((oslo_python, 'oslo_messaging') if lib == 'oslo'
                               else (sys.executable, 'messaging'))
            run_service(python, library, url, (topic, exchange), new_session=False)
        left = queues_of(host, topic)
    finally:
        for name in left:
            cleanup.queue(name)
        cleanup.run()
        for counter in Path('/dev/shm').glob('%s_*_qmanager' % host):
            counter.unlink()
    names = ['%s_fanout_%s:svc:%d' % (topic, host, n) for n in (1, 3, 5, 7)]
    names += ['reply_%s:svc:%d' % (host, n) for n in (2, 4, 6, 8)]
    assert left == set(names)
