"""Parsing and printing transport URLs.

Grammar (see the wire sheet):
``driver://[user[:pass]@]host[:port][,[user[:pass]@]host[:port]]*/[vhost][?query]``
"""
from __future__ import annotations

import logging
from typing import Optional
from urllib import parse

from messaging import exceptions

LOG = logging.getLogger(__name__)

__all__ = ['TransportHost', 'TransportURL', 'InvalidTransportURL']

_MASK = '****'


class InvalidTransportURL(exceptions.MessagingException):
    """Raised when a transport URL cannot be parsed."""

    def __init__(self, url: str, msg: str) -> None:
        super().__init__(msg)
        self.url = url


class TransportHost:
    """One broker address of a transport URL, with its credentials."""

    def __init__(self, hostname: Optional[str] = None, port: Optional[int] = None,
                 username: Optional[str] = None, password: Optional[str] = None) -> None:
        self.hostname = hostname
        self.port = port
        self.username = username
        self.password = password

    def _key(self) -> tuple:
        return (self.hostname, self.port, self.username, self.password)

    def __hash__(self) -> int:
        return hash(self._key())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TransportHost) and self._key() == other._key()

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __repr__(self) -> str:
        password = _MASK if self.password else self.password
        return ('<TransportHost hostname=%r, port=%r, username=%r, password=%r>'
                % (self.hostname, self.port, self.username, password))

    def netloc(self, mask_password: bool = True) -> str:
        """``user:pass@host:port``, percent-escaped, password masked by default."""
        text = ''
        if self.username is not None or self.password is not None:
            if self.username is not None:
                text += parse.quote(self.username, '')
            if self.password is not None:
                secret = _MASK if mask_password else parse.quote(self.password, '')
                text += ':' + secret
            text += '@'
        if self.hostname:
            text += '[%s]' % self.hostname if ':' in self.hostname else self.hostname
        if self.port is not None:
            text += ':%d' % self.port
        return text


class TransportURL:
    """A parsed transport URL: driver name, broker hosts, vhost and query.

    ``str()`` and ``repr()`` mask every password; use :meth:`to_string`
    with ``mask_password=False`` only where a driver needs the secret.
    """

    def __init__(self, conf, transport: Optional[str] = None,
                 virtual_host: Optional[str] = None,
                 hosts: Optional[list[TransportHost]] = None,
                 query: Optional[dict[str, str]] = None) -> None:
        self.conf = conf
        self.transport = transport
        self.virtual_host = virtual_host
        self.hosts = list(hosts or [])
        self.query = dict(query or {})

    def _key(self) -> tuple:
        return (self.transport, self.virtual_host, tuple(self.hosts),
                tuple(sorted(self.query.items())))

    def __hash__(self) -> int:
        return hash(self._key())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TransportURL) and self._key() == other._key()

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __repr__(self) -> str:
        return '<TransportURL transport=%r, virtual_host=%r, hosts=%r, query=%r>' % (
            self.transport, self.virtual_host, self.hosts, self.query)

    def __str__(self) -> str:
        return self.to_string()

    def to_string(self, mask_password: bool = True) -> str:
        """Render the URL; the password is masked unless asked otherwise."""
        text = '%s://' % self.transport
        text += ','.join(host.netloc(mask_password) for host in self.hosts)
        text += '/'
        if self.virtual_host is not None:
            text += parse.quote(self.virtual_host, '')
        if self.query:
            text += '?' + parse.urlencode(self.query)
        return text

    @classmethod
    def parse(cls, conf, url: Optional[str] = None) -> 'TransportURL':
        """Parse ``url``, or ``[DEFAULT] transport_url`` when ``url`` is None.

        :raises InvalidTransportURL: when the URL is malformed; the message
            says which part is wrong (never the password).
        """
        if url is None:
            from messaging import options
            options.register_default_opts(conf)
            url = conf.transport_url
        if isinstance(url, TransportURL):
            return url
        if not isinstance(url, str):
            raise InvalidTransportURL(repr(url), 'A transport URL must be a string, '
                                      'not %s' % type(url).__name__)
        return _parse(conf, url)


def _fail(url: str, reason: str) -> InvalidTransportURL:
    shown = _mask_url(url)
    return InvalidTransportURL(shown, 'Invalid transport URL "%s": %s' % (shown, reason))


def _mask_url(url: str) -> str:
    """Hide passwords in a URL that may not even parse."""
    try:
        scheme, rest = url.split('://', 1)
    except ValueError:
        return url
    netloc, sep, tail = rest.partition('/')
    hosts = []
    for host in netloc.split(','):
        if '@' in host:
            creds, address = host.rsplit('@', 1)
            if ':' in creds:
                creds = creds.split(':', 1)[0] + ':' + _MASK
            host = creds + '@' + address
        hosts.append(host)
    return scheme + '://' + ','.join(hosts) + sep + tail


def _parse(conf, url: str) -> TransportURL:
    if '://' not in url:
        raise _fail(url, 'no scheme given (expected e.g. "rabbit://host")')
    scheme, rest = url.split('://', 1)
    if not scheme:
        raise _fail(url, 'no scheme given (expected e.g. "rabbit://host")')
    netloc, _, path_and_query = rest.partition('/')
    if '?' in netloc:
        netloc, _, query_text = netloc.partition('?')
        path = None
    else:
        path, _, query_text = path_and_query.partition('?')
    query: dict[str, str] = {}
    for key, values in parse.parse_qs(query_text, keep_blank_values=True).items():
        query[key] = ','.join(values)
    hosts = [_parse_host(url, element) for element in netloc.split(',') if element]
    with_credentials = [h for h in hosts if h.username is not None]
    if with_credentials and len(with_credentials) != len(hosts):
        LOG.warning('Some hosts of transport URL "%s" have credentials and others '
                    'do not; the ones without will use the driver defaults.',
                    _mask_url(url))
    virtual_host = parse.unquote(path) if path else None
    return TransportURL(conf, scheme, virtual_host, hosts, query)


def _parse_host(url: str, element: str) -> TransportHost:
    username = password = None
    if '@' in element:
        credentials, address = element.rsplit('@', 1)
        username, sep, secret = credentials.partition(':')
        username = parse.unquote(username)
        password = parse.unquote(secret) if sep else None
    else:
        address = element
    port_text: Optional[str] = None
    if address.startswith('['):
        end = address.find(']')
        if end < 0:
            raise _fail(url, 'IPv6 host "%s" lacks its closing "]"' % address)
        hostname = address[1:end]
        remainder = address[end + 1:]
        if remainder:
            if not remainder.startswith(':'):
                raise _fail(url, 'unexpected text "%s" after IPv6 host' % remainder)
            port_text = remainder[1:]
    elif ':' in address:
        hostname, port_text = address.split(':', 1)
    else:
        hostname = address
    return TransportHost(hostname or None, _parse_port(url, port_text), username, password)


def _parse_port(url: str, text: Optional[str]) -> Optional[int]:
    if not text:
        return None
    if not text.isdigit():
        raise _fail(url, 'port "%s" is not a number' % text)
    port = int(text)
    if not 0 < port < 65536:
        raise _fail(url, 'port %d is outside 1-65535' % port)
    return port

