"""Parsing and printing transport URLs.

Grammar (see the wire sheet):
``driver://[user[:pass]@]host[:port][,[user[:pass]@]host[:port]]*/[vhost][?query]``
"""
from __future__ import annotations

from typing import Optional
from urllib import parse

from oslo_utils import netutils

from messaging import exceptions
from messaging import log_names

LOG = log_names.get_logger(__name__)

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

    def __hash__(self) -> int:
        return hash((self.hostname, self.port, self.username, self.password))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TransportHost) and vars(self) == vars(other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __repr__(self) -> str:
        # oslo's form (the fields that are set), but the password masked:
        # a repr ends up in logs and tracebacks.
        shown = []
        for name in ('hostname', 'port', 'username', 'password'):
            value = getattr(self, name)
            if value:
                shown.append('%s=%r' % (name, _MASK if name == 'password' else value))
        return '<TransportHost ' + ', '.join(shown) + '>'

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
            text += netutils.escape_ipv6(self.hostname)
        if self.port is not None:
            text += ':%d' % self.port
        return text


class TransportURL:
    """A parsed transport URL: driver name, broker hosts, vhost and query.

    As oslo.messaging's: ``str()`` gives the URL with its passwords (a
    driver connects with it); ``repr()`` and :meth:`to_string` mask them,
    and are what a log line must use. Equality and hash ignore the query.
    """

    def __init__(self, conf, transport: Optional[str] = None,
                 virtual_host: Optional[str] = None,
                 hosts: Optional[list[TransportHost]] = None,
                 query: Optional[dict[str, str]] = None) -> None:
        from messaging import options
        self.conf = conf
        options.register_transport_opts(conf)
        self.transport = transport
        self.virtual_host = virtual_host
        self.hosts = [] if hosts is None else hosts
        self.query = {} if query is None else query

    def __hash__(self) -> int:
        return hash((tuple(self.hosts), self.transport, self.virtual_host))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, TransportURL) and self.transport == other.transport
                and self.virtual_host == other.virtual_host and self.hosts == other.hosts)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __repr__(self) -> str:
        shown = ['%s=%r' % (name, getattr(self, name))
                 for name in ('transport', 'virtual_host', 'hosts') if getattr(self, name)]
        return '<TransportURL ' + ', '.join(shown) + '>'

    def __str__(self) -> str:
        return self.to_string(mask_password=False)

    def to_string(self, mask_password: bool = True) -> str:
        """Render the URL as oslo does; the password is masked unless asked otherwise."""
        text = '%s://%s/' % (self.transport,
                             ','.join(host.netloc(mask_password) for host in self.hosts))
        if self.virtual_host:
            text += parse.quote(self.virtual_host)
        if self.query:
            text += '?' + parse.urlencode(self.query, doseq=True)
        return text

    @classmethod
    def parse(cls, conf, url: Optional[str] = None) -> 'TransportURL':
        """Parse ``url``, or ``[DEFAULT] transport_url`` when ``url`` is empty.

        The scheme is what precedes the first ":" (``fake:`` and ``rabbit:``
        are URLs without hosts), as oslo reads it.

        :raises InvalidTransportURL: when the URL is malformed; the message
            says which part is wrong (never the password).
        """
        if url is None or url == '':
            # As oslo ("url or conf.transport_url"): an empty value, e.g. an
            # empty option in a config file, means the configured URL.
            from messaging import options
            options.register_transport_opts(conf)
            url = conf.transport_url
        if isinstance(url, TransportURL):
            return url
        if not isinstance(url, str):
            raise InvalidTransportURL(url, 'Wrong URL type')
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
    try:
        parts = parse.urlparse(url)
    except ValueError as ex:  # an unbalanced "[" of an IPv6 host
        raise _fail(url, 'an IPv6 host is malformed (%s)' % ex)
    if not parts.scheme:
        raise InvalidTransportURL(_mask_url(url), 'No scheme specified')
    query: dict[str, str] = {}
    for key, values in parse.parse_qs(parts.query).items():
        query[key] = ','.join(values)
    # As oslo: no "/" after the hosts means None, "/" alone means "".
    virtual_host = parse.unquote(parts.path[1:]) if parts.path.startswith('/') else None
    hosts = [_parse_host(url, element) for element in parts.netloc.split(',') if element]
    complete = [h.hostname for h in hosts if h.username is not None and h.password is not None]
    partial = [h.hostname for h in hosts if h.username is None or h.password is None]
    if complete and partial:
        LOG.warning('All hosts of a transport URL must have a username and password, or '
                    'none; hosts with credentials: %s, hosts without: %s', complete, partial)
    return TransportURL(conf, parts.scheme, virtual_host, hosts, query)


def _parse_host(url: str, element: str) -> TransportHost:
    username = password = None
    address = element
    if '@' in element:
        credentials, address = element.rsplit('@', 1)
        username, sep, secret = credentials.partition(':')
        username = parse.unquote(username)
        password = parse.unquote(secret) if sep else None
    try:
        hostname, port = netutils.parse_host_port(address)
    except ValueError:
        # The port text is not echoed: with an unescaped "/" in a password,
        # what looks like a port is the start of the password.
        raise _fail(url, 'the port of a host is not a number')
    if port is not None and not 0 < port < 65536:
        raise _fail(url, 'the port of host "%s" is outside 1-65535' % hostname)
    return TransportHost(hostname or None, port, username, password)
