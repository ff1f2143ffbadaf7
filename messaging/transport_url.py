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
        """Parse ``url``, or ``[DEFAULT] transport_url`` when ``url`` is empty.

        :raises InvalidTransportURL: when the URL is malformed; the message
            says which part is wrong (never the password).
        """
        if url is None or url == '':
            # As oslo ("url or conf.transport_url"): an empty value, e.g. an
            # empty option in a config file, means the configured URL.
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
    """Hide passwords in a URL that may not even parse.

    Credentials end at the last "@"; a mistyped password may hold an
    unescaped "/", "," or ":", so everything after a ":" before that "@" is
    masked, even when the URL has no scheme.
    """
    scheme, sep, rest = url.partition('://')
    if not sep:
        scheme, rest = '', url
    cut = rest.rfind('@')
    if cut < 0:
        return url
    masked = []
    for element in rest[:cut].split(','):
        credentials, at, address = element.rpartition('@')
        if not at:
            credentials, address = element, ''
        user, colon, _ = credentials.partition(':')
        masked.append(user + (':' + _MASK if colon else '') + at + address)
    return scheme + sep + ','.join(masked) + rest[cut:]


def _parse(conf, url: str) -> TransportURL:
    scheme, sep, rest = url.partition('://')
    if not (sep and scheme):
        raise _fail(url, 'no scheme given (expected e.g. "rabbit://host")')
    netloc, slash, path_and_query = rest.partition('/')
    path: Optional[str] = None
    if '?' in netloc:
        netloc, _, query_text = netloc.partition('?')
    else:
        path, _, query_text = path_and_query.partition('?')
        if not slash:
            path = None
    query: dict[str, str] = {}
    for key, values in parse.parse_qs(query_text).items():
        query[key] = ','.join(values)
    hosts = [_parse_host(url, element) for element in netloc.split(',') if element]
    with_credentials = [h for h in hosts if h.username is not None]
    if with_credentials and len(with_credentials) != len(hosts):
        LOG.warning('Some hosts of transport URL "%s" have credentials and others '
                    'do not; the ones without will use the driver defaults.',
                    _mask_url(url))
    # As oslo: no "/" after the hosts means None, "/" alone means "".
    virtual_host = parse.unquote(path) if path is not None else None
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
            raise _fail(url, 'an IPv6 host lacks its closing "]"')
        hostname = address[1:end]
        remainder = address[end + 1:]
        if remainder:
            if not remainder.startswith(':'):
                raise _fail(url, 'unexpected text after the "]" of IPv6 host "%s"'
                            % hostname)
            port_text = remainder[1:]
    elif ':' in address:
        hostname, port_text = address.split(':', 1)
    else:
        hostname = address
    port = _parse_port(url, hostname, port_text)
    return TransportHost(hostname or None, port, username, password)


def _parse_port(url: str, hostname: str, text: Optional[str]) -> Optional[int]:
    # The port text is not echoed: with an unescaped "/" in a password, what
    # looks like a port is the start of the password.
    if not text:
        return None
    if not (text.isascii() and text.isdigit()):
        raise _fail(url, 'the port of host "%s" is not a number' % hostname)
    port = int(text)
    if not 0 < port < 65536:
        raise _fail(url, 'the port of host "%s" is outside 1-65535' % hostname)
    return port

