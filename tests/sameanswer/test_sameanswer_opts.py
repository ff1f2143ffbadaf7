"""opts.list_opts, opts.set_defaults and ConfFixture answer as oslo.messaging 18.3.1's do."""
from textwrap import dedent


# Option names ours has and oslo lacks, and oslo's group we do not offer
# (documented in messaging/opts.py).
OURS_ONLY = {'oslo_messaging_notifications': ['routing_config'],
             'oslo_messaging_rabbit': ['max_message_size', 'publish_timeout',
                                       'rabbit_frame_engine']}
# Groups one list_opts has and the other lacks: oslo's kafka group (no Kafka
# driver here), and the metrics and tracing groups, which oslo registers on
# cfg.CONF outside list_opts and ours lists (documented in messaging/opts.py).
UNSHARED_GROUPS = ('oslo_messaging_kafka', 'oslo_messaging_metrics', 'oslo_messaging_tracing')

LIST_OPTS = """
import importlib
opts = importlib.import_module(om.__name__ + '.opts')
ours_only = %r
groups = [(g, o) for g, o in opts.list_opts() if g not in %r]
observe('groups', [g for g, _ in groups])
for group, group_opts in groups:
    kept = [o for o in group_opts if o.name not in ours_only.get(group, [])]
    observe('names %%s' %% group, [o.name for o in kept] if group is None
            else sorted(o.name for o in kept))
    # Values, not reprs: our FloatOpt default 1.0 equals oslo's IntOpt 1.
    observe('defaults %%s' %% group, {o.name: o.default for o in kept
                                     if o.name not in ('hostname', 'processname')})
    observe('secret %%s' %% group, sorted(o.name for o in kept if o.secret))
conf = cfg.ConfigOpts()
conf.register_opts([o for g, os_ in groups if g is None for o in os_])
opts.set_defaults(conf, executor_thread_pool_size=5)
observe('set_defaults', conf.executor_thread_pool_size)
""" % (OURS_ONLY, UNSHARED_GROUPS)


def test_list_opts_groups_names_and_defaults(same_answer):
    same_answer(LIST_OPTS)


def test_option_types_that_match(same_answer):
    # Our rabbit retry intervals are FloatOpt where oslo's are IntOpt (a float
    # option takes every integer value); the rest must be the same type.
    same_answer('ours_only = %r\nunshared = %r\n' % (OURS_ONLY, UNSHARED_GROUPS) + dedent("""
        import importlib
        opts = importlib.import_module(om.__name__ + '.opts')
        floats = {'rabbit_retry_interval', 'rabbit_retry_backoff', 'rabbit_interval_max'}
        for group, group_opts in opts.list_opts():
            if group in unshared:
                continue
            observe('types %s' % group, {o.name: type(o).__name__ for o in group_opts
                                        if o.name not in floats
                                        and o.name not in ours_only.get(group, [])})
    """))


def test_conf_fixture_undoes_overrides_made_while_active(same_answer):
    same_answer("""
        import importlib
        conffixture = importlib.import_module(om.__name__ + '.conffixture')
        conf = cfg.ConfigOpts()
        fixture = conffixture.ConfFixture(conf, transport_url='fake:/')
        observe('url before setUp', conf.transport_url)
        fixture.setUp()
        conf.set_override('rpc_response_timeout', 9)
        fixture.response_timeout = 11
        conf.set_override('driver', ['noop'], group='oslo_messaging_notifications')
        conf.clear_override('control_exchange')
        observe('during', [conf.rpc_response_timeout, fixture.response_timeout,
                           conf.oslo_messaging_notifications.driver, fixture.transport_url])
        fixture.cleanUp()
        observe('after', [conf.rpc_response_timeout, conf.transport_url,
                          conf.oslo_messaging_notifications.driver, conf.control_exchange])
        observe('rabbit registered', conf.oslo_messaging_rabbit.rabbit_ha_queues)
    """)
