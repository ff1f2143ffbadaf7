"""The ``rabbit://`` (alias ``kombu://``) driver: RabbitMQ through kombu.

The driver reads ``[oslo_messaging_rabbit]`` through a per-transport view in
which the URL's query string overrides the config file, so two transports of
one process can differ without touching the shared ``ConfigOpts``.
"""
from __future__ import annotations

import random
import ssl
from typing import Any, Optional, Union
from urllib import parse

from oslo_config import cfg

from messaging.drivers.rabbit.amqpdriver import AMQPDriverBase
from messaging.drivers.rabbit import declarations
from messaging.drivers.rabbit import options as rabbit_options
from messaging.drivers.rabbit import queue_manager
from messaging.drivers.rabbit import reachability
from messaging.drivers.rabbit.codec import Codec
from messaging.drivers.rabbit.connection import Connection
from messaging.drivers.rabbit.shared_connection import SharedConnection
from messaging.drivers.rabbit.unconfirming_hosts import UnconfirmingHosts
from messaging import log_names

LOG = log_names.get_logger(__name__)

# oslo.messaging's name for the [oslo_messaging_rabbit] options, which
# services list for their sample configurations (ceilometer).
rabbit_opts = rabbit_options.rabbit_opts

DEFAULT_PORT = 5672
_NO_HOST = ('localhost', 'guest', 'guest')


class UnknownURLOption(cfg.NoSuchOptError):
    """A transport URL query key that is no ``[oslo_messaging_rabbit]`` option."""

    def __str__(self) -> str:
        return ('no such option %s in group [%s]: the transport URL\'s query sets it, '
                'and every query key must be an [%s] option (misspelt?)'
                % (self.opt_name, self.group.name, self.group.name))


class RabbitOptions:
    """``[oslo_messaging_rabbit]`` as one transport sees it.

    Attribute access returns the URL query's value when it has one (already
    converted with the option's type), else the configured value.

    :raises UnknownURLOption: (a ``cfg.NoSuchOptError``) for a query key
        that is no option of the group.
    :raises ValueError: for a query value the option's type refuses.
    """

    def __init__(self, conf: cfg.ConfigOpts, query: Optional[dict[str, str]] = None
                 ) -> None:
        rabbit_options.register_opts(conf)
        self._group = conf[rabbit_options.GROUP]
        known = {opt.dest: opt for opt in rabbit_options.rabbit_opts}
        self._overrides: dict[str, Any] = {}
        for key, text in (query or {}).items():
            opt = known.get(key)
            if opt is None:
                raise UnknownURLOption(key, cfg.OptGroup(rabbit_options.GROUP))
            try:
                self._overrides[key] = opt.type(text)
            except ValueError as ex:
                raise ValueError('Invalid value %r for option %s of group [%s] in the '
                                 'transport URL: %s' % (text, key, rabbit_options.GROUP,
                                                        ex)) from None

    def __getattr__(self, name: str) -> Any:
        try:
            return self._overrides[name]
        except KeyError:
            return getattr(self._group, name)


def broker_urls(url: Any) -> list[str]:
    """One kombu URL per host of ``url``; no host means guest@localhost."""
    vhost = parse.quote(url.virtual_host or '/', safe='')
    urls = []
    hosts = [(h.hostname or 'localhost', h.port, h.username, h.password)
             for h in url.hosts] or [(_NO_HOST[0], None) + _NO_HOST[1:]]
    for hostname, port, username, password in hosts:
        credentials = ''
        if username:
            credentials = parse.quote(username, safe='')
            if password is not None:
                credentials += ':' + parse.quote(password, safe='')
            credentials += '@'
        address = '[%s]' % hostname if ':' in hostname else hostname
        urls.append('amqp://%s%s:%d/%s' % (credentials, address, port or DEFAULT_PORT,
                                            vhost))
    return urls


def ssl_options(options: Any, single_host: Optional[str]) -> Any:
    """kombu's ``ssl`` argument: False, True, or a dict of ssl settings."""
    if not options.ssl:
        return False
    if options.ssl_enforce_fips_mode and not getattr(ssl, 'FIPS_mode', lambda: False)():
        raise declarations.InvalidRabbitConfig(
            'ssl_enforce_fips_mode is set but this Python\'s ssl module is not in '
            'FIPS mode')
    settings: dict[str, Any] = {}
    if options.ssl_version:
        protocol = getattr(ssl, 'PROTOCOL_' + options.ssl_version.replace('.', '_'), None)
        if protocol is None:
            raise declarations.InvalidRabbitConfig(
                'ssl_version %r is not a protocol this Python knows (e.g. TLSv1_2)'
                % options.ssl_version)
        settings['ssl_version'] = protocol
    if options.ssl_key_file:
        settings['keyfile'] = options.ssl_key_file
    if options.ssl_cert_file:
        settings['certfile'] = options.ssl_cert_file
    if options.ssl_ca_file:
        settings['ca_certs'] = options.ssl_ca_file
        settings['cert_reqs'] = ssl.CERT_REQUIRED
        if single_host:
            settings['server_hostname'] = single_host
    return settings or True


class RabbitDriver(AMQPDriverBase):
    """RPC and notifications over RabbitMQ, wire-compatible with oslo.messaging."""

    def __init__(self, conf: cfg.ConfigOpts, url: Any, default_exchange: Optional[str] = None,
                 allowed_remote_exmods: Optional[list[str]] = None) -> None:
        options = RabbitOptions(conf, url.query)
        declarations.validate(options)
        self._codec = Codec(options.kombu_compression, options.max_message_size)
        self._broker_urls = broker_urls(url)
        self._transport_url = url
        single = url.hosts[0].hostname if len(url.hosts) == 1 else None
        self._ssl = ssl_options(options, single)
        self._unconfirming = UnconfirmingHosts()
        super().__init__(conf, url, options, default_exchange, allowed_remote_exmods,
                         queue_manager=queue_manager.from_options(options, conf))
        LOG.debug('Rabbit driver for %s', url.to_string())

    def check_reachable(self, timeout: Optional[float] = None) -> None:
        """Log in once to each host of the URL until one lets us in.

        :raises BrokerUnreachable: none did; says which and why.
        """
        reachability.check_reachable(self._transport_url, self.options, self._ssl, timeout)

    def _make_connection(self, listening: bool, io_thread: bool = True
                         ) -> Union[Connection, SharedConnection]:
        urls = list(self._broker_urls)
        # Spread processes over the cluster: each connection starts on a
        # random host and fails over through the others.
        random.shuffle(urls)
        if listening:
            # Only the reply connection leaves a host found not confirming
            # (unconfirming_hosts.py); a server's stay.
            return SharedConnection(self.options, urls, ssl=self._ssl, codec_=self._codec,
                                    io_thread=io_thread,
                                    unconfirming=None if io_thread else self._unconfirming)
        return Connection(self.options, urls, ssl=self._ssl, codec_=self._codec,
                          unconfirming=self._unconfirming)
