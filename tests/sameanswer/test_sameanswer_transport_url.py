"""TransportURL and transport factories answer as oslo.messaging 18.3.1's do."""


def test_urls_without_hosts_parse(same_answer):
    same_answer("""
        conf = cfg.ConfigOpts()
        for text in ('fake:', 'fake:/', 'rabbit:', 'foo:', 'fake://', 'rabbit:///'):
            url = om.TransportURL.parse(conf, text)
            observe(text, [url.transport, url.virtual_host, len(url.hosts), str(url)])
    """)


def test_str_prints_the_url_as_oslo_does(same_answer):
    same_answer("""
        conf = cfg.ConfigOpts()
        for text in ('rabbit://u:pw@h:5672//', 'rabbit://u:pw@h:5672/', 'rabbit://h',
                     'rabbit://h/%2F', 'rabbit://h/a%2Fb?x=1&x=2', 'rabbit://u%40x:p%2Fw@[::1]:5673,h2/v',
                     'rabbit://a:b@h1,h2/vh', 'kombu+memory://h/', 'rabbit://user@h/'):
            url = om.TransportURL.parse(conf, text)
            observe(text, [str(url), url.virtual_host, url.query,
                           [(h.hostname, h.port, h.username, h.password) for h in url.hosts]])
    """)


def test_equality_and_hash_ignore_the_query(same_answer):
    same_answer("""
        conf = cfg.ConfigOpts()
        a = om.TransportURL.parse(conf, 'rabbit://u:p@h/vh?x=1')
        b = om.TransportURL.parse(conf, 'rabbit://u:p@h/vh?x=2')
        c = om.TransportURL.parse(conf, 'rabbit://u:q@h/vh?x=1')
        observe('equal', [a == b, a != b, hash(a) == hash(b), a == c])
        observe('hosts equal', om.TransportHost('h', 1) == om.TransportHost('h', 1))
    """)


def test_errors_for_a_missing_scheme_and_a_wrong_type(same_answer):
    same_answer("""
        conf = cfg.ConfigOpts()
        for text in ('//u:p@h/', '://h/', 42):
            observe(repr(text), outcome(om.TransportURL.parse, conf, text))
        observe('transport', outcome(om.get_rpc_transport, conf, '//h/'))
    """)


def test_repr_keeps_oslo_form_without_a_password(same_answer):
    # oslo's repr prints the password; ours masks it (credentials stay out
    # of logs), so only a URL without one is compared.
    same_answer("""
        conf = cfg.ConfigOpts()
        url = om.TransportURL.parse(conf, 'rabbit://u@h:1,h2/vh')
        observe('repr', repr(url))
        observe('no vhost', repr(om.TransportURL.parse(conf, 'rabbit://h')))
    """)


def test_get_transport_is_deprecated(same_answer):
    same_answer("""
        conf = cfg.ConfigOpts()
        observe('get_transport', warned(om.get_transport, conf, 'fake:'))
        observe('get_rpc_transport', warned(om.get_rpc_transport, conf, 'fake:'))
        observe('type', type(om.get_rpc_transport(conf, 'fake:')).__name__)
        observe('unknown driver', outcome(om.get_rpc_transport, conf, 'nosuch://').get('raised'))
    """)
