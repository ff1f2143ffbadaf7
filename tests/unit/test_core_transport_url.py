"""TransportURL.parse: the grammar of WIRE.md §1.1/§1.2, errors, and masking."""
import logging
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oslo_config import cfg

import messaging
from messaging import options
from messaging.transport_url import InvalidTransportURL, TransportHost, TransportURL

SECRET = 'Zq9-s3cr3t-PW'


def parse(conf, url):
    return TransportURL.parse(conf, url)


def test_single_host_with_credentials_port_and_vhost(conf):
    url = parse(conf, 'rabbit://alice:pw@broker:5673/nova')
    assert url.transport == 'rabbit'
    assert url.virtual_host == 'nova'
    assert url.hosts == [TransportHost('broker', 5673, 'alice', 'pw')]
    assert url.query == {}


def test_several_hosts_keep_their_own_credentials_and_ports(conf):
    url = parse(conf, 'rabbit://a:pa@h1:1111,b:pb@h2,h3:3333/vh')
    assert url.hosts == [TransportHost('h1', 1111, 'a', 'pa'),
                         TransportHost('h2', None, 'b', 'pb'),
                         TransportHost('h3', 3333, None, None)]
    assert url.virtual_host == 'vh'


def test_mixed_credentials_log_a_warning(conf, caplog):
    with caplog.at_level(logging.WARNING, logger='messaging.transport_url'):
        parse(conf, 'rabbit://a:%s@h1,h2/' % SECRET)
    assert 'credentials' in caplog.text
    assert SECRET not in caplog.text


def test_missing_port_is_none_and_host_without_credentials_has_none(conf):
    (host,) = parse(conf, 'rabbit://h').hosts
    assert (host.hostname, host.port, host.username, host.password) == ('h', None, None, None)


@pytest.mark.parametrize('text, vhost', [
    ('rabbit://h', None),
    ('rabbit://h/', ''),
    ('rabbit://h//', '/'),
    ('rabbit://h/%2F', '/'),
    ('rabbit://h/nova', 'nova'),
    ('rabbit://h/a%2Fb', 'a/b'),
    ('rabbit://h?a=1', None),
    ('rabbit://h/?a=1', ''),
    ('rabbit:///', ''),
    ('rabbit://', None),
])
def test_virtual_host_follows_oslo_rules(conf, text, vhost):
    assert parse(conf, text).virtual_host == vhost


def test_url_without_host_has_no_hosts(conf):
    assert parse(conf, 'rabbit://').hosts == []
    assert parse(conf, 'rabbit:///').hosts == []


def test_query_repeated_keys_are_joined_with_commas(conf):
    url = parse(conf, 'rabbit://h/?a=1&b=x&a=2&a=3')
    assert url.query == {'a': '1,2,3', 'b': 'x'}


def test_query_values_are_percent_decoded(conf):
    assert parse(conf, 'rabbit://h/?ssl_ca_file=%2Fetc%2Fca.pem').query == {
        'ssl_ca_file': '/etc/ca.pem'}


def test_user_and_password_are_percent_decoded(conf):
    (host,) = parse(conf, 'rabbit://us%40er:p%3Aa%2Fs%40s@h/').hosts
    assert host.username == 'us@er'
    assert host.password == 'p:a/s@s'


def test_credentials_end_at_the_last_at_sign_and_split_at_the_first_colon(conf):
    (host,) = parse(conf, 'rabbit://user:pa:ss@word@h:1234/').hosts
    assert (host.username, host.password, host.hostname, host.port) == (
        'user', 'pa:ss@word', 'h', 1234)


def test_user_without_password(conf):
    (host,) = parse(conf, 'rabbit://user@h/').hosts
    assert (host.username, host.password) == ('user', None)


@pytest.mark.parametrize('text, hostname, port', [
    ('rabbit://[::1]:5673/', '::1', 5673),
    ('rabbit://[::1]/', '::1', None),
    ('rabbit://u:p@[fe80::1%25eth0]:15672/', 'fe80::1%25eth0', 15672),
    ('rabbit://[2001:db8::2]', '2001:db8::2', None),
])
def test_ipv6_hosts_in_brackets(conf, text, hostname, port):
    (host,) = parse(conf, text).hosts
    assert (host.hostname, host.port) == (hostname, port)


def test_empty_host_elements_are_skipped(conf):
    url = parse(conf, 'rabbit://,h1,,h2:2,/')
    assert [(h.hostname, h.port) for h in url.hosts] == [('h1', None), ('h2', 2)]


def test_kombu_alias_and_plus_transport_keep_their_scheme(conf):
    assert parse(conf, 'kombu://h/').transport == 'kombu'
    assert parse(conf, 'kombu+memory://h/').transport == 'kombu+memory'


def test_url_none_reads_default_transport_url(conf):
    options.register_default_opts(conf)
    conf.set_override('transport_url', 'rabbit://cfg-user:pw@cfg-host:5999/cfgvh')
    url = TransportURL.parse(conf)
    assert url.hosts == [TransportHost('cfg-host', 5999, 'cfg-user', 'pw')]
    assert url.virtual_host == 'cfgvh'


def test_url_none_without_config_uses_the_rabbit_default(conf):
    url = TransportURL.parse(conf, None)
    assert url.transport == 'rabbit'
    assert url.hosts == []


def test_parse_returns_a_transport_url_unchanged(conf):
    url = parse(conf, 'rabbit://h/')
    assert TransportURL.parse(conf, url) is url


def test_non_string_url_is_invalid(conf):
    with pytest.raises(InvalidTransportURL):
        TransportURL.parse(conf, 42)


@pytest.mark.parametrize('text, words', [
    ('//user:%s@h/' % SECRET, 'scheme'),
    ('://user:%s@h/' % SECRET, 'scheme'),
    ('rabbit://user:%s@h:abc/' % SECRET, 'port'),
    ('rabbit://user:%s@h:-1/' % SECRET, 'port'),
    ('rabbit://user:%s@h:70000/' % SECRET, 'port'),
    ('rabbit://user:%s@h:0/' % SECRET, 'port'),
    ('rabbit://user:%s@h:\u00b2/' % SECRET, 'port'),
    ('rabbit://user:%s@[::1:5672/' % SECRET, 'IPv6'),
    ('rabbit://ok:fine@h1,user:%s@h2:99999/' % SECRET, 'port'),
])
def test_malformed_urls_raise_a_clear_error_without_the_password(conf, text, words):
    with pytest.raises(InvalidTransportURL) as info:
        parse(conf, text)
    message = str(info.value)
    assert words in message
    assert SECRET not in message
    assert SECRET not in str(info.value.url)
    assert SECRET not in repr(info.value)


def test_password_with_unescaped_slash_is_not_echoed_in_the_error(conf):
    # The netloc ends at the first "/", so the password's tail becomes the path
    # and its head looks like a port: the error must still not show it.
    with pytest.raises(InvalidTransportURL) as info:
        parse(conf, 'rabbit://user:abc/%s@h/' % SECRET)
    assert 'abc' not in str(info.value).replace('rabbit://', '')
    assert SECRET not in str(info.value)


def test_invalid_transport_url_is_a_messaging_exception():
    assert issubclass(InvalidTransportURL, messaging.MessagingException)
    assert messaging.InvalidTransportURL is InvalidTransportURL


def test_repr_and_to_string_never_print_the_password(conf):
    url = parse(conf, 'rabbit://alice:%s@h1:5672,bob:%s@h2/vh' % (SECRET, SECRET))
    for text in (url.to_string(), repr(url), repr(url.hosts), str(url.hosts[0]),
                 '{!r}'.format(url)):
        assert SECRET not in text
    assert 'alice' in url.to_string() and 'h1' in url.to_string()


def test_str_prints_the_password_as_oslo_does(conf):
    url = parse(conf, 'rabbit://alice:%s@h1:5672/vh' % SECRET)
    assert str(url) == 'rabbit://alice:%s@h1:5672/vh' % SECRET


def test_a_url_of_a_scheme_and_colon_alone_has_no_hosts(conf):
    for text in ('fake:', 'rabbit:', 'foo:'):
        url = parse(conf, text)
        assert (url.transport, url.hosts, url.virtual_host) == (text[:-1], [], None)
    assert parse(conf, 'fake:/').virtual_host == ''


def test_a_vhost_of_a_slash_prints_as_two_slashes(conf):
    assert str(parse(conf, 'rabbit://h/%2F')) == 'rabbit://h//'


def test_to_string_can_reveal_the_password_when_asked(conf):
    url = parse(conf, 'rabbit://alice:%s@h1:5672/vh' % SECRET)
    assert url.to_string(mask_password=False) == 'rabbit://alice:%s@h1:5672/vh' % SECRET


def test_to_string_round_trips_escapes_and_ipv6(conf):
    text = 'rabbit://u%40x:p%2Fw@[::1]:5673,h2/a%2Fb?x=1'
    url = parse(conf, text)
    assert parse(conf, url.to_string(mask_password=False)) == url


def test_equal_urls_are_equal_and_hash_alike_whatever_their_query(conf):
    a = parse(conf, 'rabbit://u:p@h1:1,h2/vh?x=1')
    b = parse(conf, 'rabbit://u:p@h1:1,h2/vh?x=2')
    assert a == b and not (a != b)
    assert hash(a) == hash(b)
    assert len({a, b}) == 1


@pytest.mark.parametrize('other', [
    'rabbit://u:p@h1:2,h2/vh?x=1',
    'rabbit://u:q@h1:1,h2/vh?x=1',
    'rabbit://u:p@h1:1,h2/other?x=1',
    'kombu://u:p@h1:1,h2/vh?x=1',
    'rabbit://u:p@h1:1/vh?x=1',
])
def test_urls_that_differ_are_not_equal(conf, other):
    assert parse(conf, 'rabbit://u:p@h1:1,h2/vh?x=1') != parse(conf, other)


def test_transport_url_is_not_equal_to_a_string(conf):
    assert parse(conf, 'rabbit://h/') != 'rabbit://h/'


def test_transport_host_equality_and_hash():
    assert TransportHost('h', 1, 'u', 'p') == TransportHost('h', 1, 'u', 'p')
    assert hash(TransportHost('h', 1, 'u', 'p')) == hash(TransportHost('h', 1, 'u', 'p'))
    assert TransportHost('h', 1, 'u', 'p') != TransportHost('h', 1, 'u', 'q')


def test_empty_url_reads_default_transport_url_like_none(conf):
    # oslo: "url = url or conf.transport_url"; an empty option value in a
    # config file must not be a parse error.
    options.register_default_opts(conf)
    conf.set_override('transport_url', 'rabbit://cfg-host/vh')
    assert TransportURL.parse(conf, '').hosts == [TransportHost('cfg-host')]


def test_query_keys_without_value_are_dropped_like_oslo(conf):
    # oslo uses parse_qs without keep_blank_values: "?a=&b" sets nothing.
    assert parse(conf, 'rabbit://h/?a=&b&c=1').query == {'c': '1'}


hostnames = st.from_regex(r'[a-z][a-z0-9.-]{0,15}', fullmatch=True) \
    | st.sampled_from(['::1', 'fe80::1', '2001:db8::2', '10.0.0.1'])
secrets = st.text(st.characters(codec='utf-8', exclude_categories=['Cs']), max_size=12)
hosts = st.builds(TransportHost, hostnames, st.none() | st.integers(1, 65535),
                  st.none() | secrets.filter(bool), st.none() | secrets)
query_keys = st.from_regex(r'[a-z_]{1,12}', fullmatch=True)
query_values = st.text(min_size=1, max_size=10).filter(lambda v: v.strip() == v)


@settings(max_examples=300)
@given(st.lists(hosts, max_size=4), st.none() | secrets.filter(bool),
       st.dictionaries(query_keys, query_values, max_size=3))
def test_to_string_then_parse_gives_the_same_url(host_list, vhost, query):
    conf = cfg.ConfigOpts()
    host_list = [h if h.username is not None or h.password is None
                 else TransportHost(h.hostname, h.port, '', h.password) for h in host_list]
    url = TransportURL(conf, 'rabbit', vhost, host_list, query)
    again = TransportURL.parse(conf, url.to_string(mask_password=False))
    assert again.hosts == url.hosts
    assert again.virtual_host == (vhost or '')
    assert again.query == query


@settings(max_examples=300)
@given(st.lists(hosts, min_size=1, max_size=3), st.none() | secrets.filter(bool))
def test_masked_forms_never_contain_a_password(host_list, vhost):
    # Each password carries a sentinel nothing else in the URL can contain,
    # so finding it (raw or percent-escaped) can only mean a leak.
    sentinel = 'pw%s' % uuid.uuid4().hex
    host_list = [TransportHost(h.hostname, h.port, h.username,
                               sentinel + (h.password or '')) for h in host_list]
    url = TransportURL(cfg.ConfigOpts(), 'rabbit', vhost, host_list)
    for text in (url.to_string(), repr(url)):
        assert sentinel not in text
