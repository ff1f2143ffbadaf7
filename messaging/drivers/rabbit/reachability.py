"""Can the broker be used at all? Log in once, and say in one line why not.

The driver keeps trying an unreachable broker until an operation's own
bound (a call's timeout, a listener's connect timeout) and then reports the
operation it was doing (a reply queue, a publish). A tool at a shell wants
the answer at once and in words about the broker: this logs in to each host
of the transport URL once, with a short timeout, and when none can be used
names the broker, its vhost and the cause (never the password).
"""
from __future__ import annotations

import contextlib
import socket
import ssl
from typing import Any, Optional

import amqp
from amqp import exceptions as amqp_exc

from messaging.drivers.rabbit.errors import BrokerUnreachable
from messaging.transport_url import TransportHost, TransportURL

# Seconds each host may take to answer (each of the TCP, TLS and AMQP
# handshakes): a broker that answers at all does so well within it.
CHECK_TIMEOUT = 3.0
DEFAULT_PORT = 5672

def check_reachable(url: TransportURL, options: Any, tls: Any,
                    timeout: Optional[float] = None) -> None:
    """Log in to the broker of ``url``, trying each of its hosts once;
    return at the first that lets us in.

    :param options: the driver's reading of the URL's query and of
        ``[oslo_messaging_rabbit]`` (its login method).
    :param tls: the driver's TLS settings for the URL (False without TLS).
    :param timeout: the caller's own bound in seconds, if it has one;
        each host may take that long, at most ``CHECK_TIMEOUT``.
    :raises BrokerUnreachable: naming each host tried and its cause.
    """
    vhost = url.virtual_host or '/'
    timeout = CHECK_TIMEOUT if timeout is None else min(timeout, CHECK_TIMEOUT)
    failures = []
    for host in url.hosts or [TransportHost()]:
        address = _address(host)
        try:
            _log_in(address, host, vhost, options.rabbit_login_method, tls, timeout)
            return
        except (OSError, EOFError, amqp_exc.AMQPError) as ex:
            failures.append((address, describe_cause(ex, vhost, timeout, bool(tls))))
    if len(failures) == 1:
        address, cause = failures[0]
        raise BrokerUnreachable('cannot reach the broker at %s, vhost %s: %s'
                                % (address, vhost, cause))
    raise BrokerUnreachable('cannot reach the broker at any host of the URL, vhost %s: %s'
                            % (vhost, '; '.join('%s: %s' % failure
                                                for failure in failures)))


def _address(host: TransportHost) -> str:
    name = host.hostname or 'localhost'
    if ':' in name:
        name = '[%s]' % name
    return '%s:%d' % (name, host.port or DEFAULT_PORT)


def _log_in(address: str, host: TransportHost, vhost: str, login_method: str,
            tls: Any, timeout: float) -> None:
    """Open and close one AMQP connection, every handshake within ``timeout``."""
    connection = amqp.Connection(
        host=address, userid=host.username or 'guest',
        password='guest' if host.password is None else host.password,
        virtual_host=vhost, login_method=login_method, ssl=tls,
        connect_timeout=timeout, read_timeout=timeout, write_timeout=timeout,
        heartbeat=0, client_properties={'connection_name': 'messaging command: broker check'})
    try:
        connection.connect()
    except BaseException:
        connection.collect()
        raise
    # Logged in: the broker is usable, however the goodbye goes.
    with contextlib.suppress(OSError, EOFError, amqp_exc.AMQPError):
        connection.close()


def describe_cause(ex: BaseException, vhost: str, timeout: float,
                   tls: bool) -> str:
    """Why a log-in failed, in words a person acts on."""
    if isinstance(ex, socket.gaierror):
        return 'unknown host (%s)' % (ex.strerror or ex)
    if isinstance(ex, ConnectionRefusedError):
        return 'connection refused (is RabbitMQ running and listening on that port?)'
    if isinstance(ex, ssl.SSLCertVerificationError):
        return 'TLS handshake failed: the certificate did not verify (%s)' % (
            ex.verify_message or ex.reason)
    if isinstance(ex, ssl.SSLError):
        return 'TLS handshake failed (%s): does the port take TLS?' % (ex.reason or ex)
    if isinstance(ex, (socket.timeout, TimeoutError)):
        return 'no answer within %gs' % timeout
    if isinstance(ex, amqp_exc.AccessRefused):
        return 'login refused: check user and password'
    if isinstance(ex, amqp_exc.NotAllowed):
        if 'not found' in str(ex):
            return 'vhost %s not found (see "rabbitmqctl list_vhosts")' % vhost
        return ('vhost %s not permitted for this user (see "rabbitmqctl '
                'list_user_permissions USER")' % vhost)
    closed = isinstance(ex, (ConnectionResetError, EOFError,
                             amqp_exc.RecoverableConnectionError))
    if closed and not tls:
        return ('the broker closed the connection during the handshake (%s): if the '
                'port takes TLS, add ?ssl=1 to the URL' % _text(ex))
    return _text(ex)


def _text(ex: BaseException) -> str:
    if isinstance(ex, OSError) and ex.strerror:
        return ex.strerror
    return str(ex).splitlines()[0] if str(ex) else type(ex).__name__

