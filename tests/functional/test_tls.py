"""TLS against a RabbitMQ node of the test's own.

The module starts a second RabbitMQ node (its own name, ports, cookie,
data, logs and configuration under a temporary directory, no plugins) with
TLS listeners only, on 127.0.0.1 and 127.0.0.2, requiring client
certificates, using a CA and certificates made here with openssl. The node
on 5672 is not touched, and the node is stopped however the tests end.

A client that trusts the CA and checks the host name connects and calls;
a client without the CA, or connecting to an address the certificate does
not name, or without a client certificate, or with one from another CA,
fails with an error that says why, within seconds (limited retries).
"""
from __future__ import annotations

import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid

import pytest
from oslo_config import cfg

import messaging
from messaging.drivers.rabbit.errors import CertificateVerificationFailure
from tests.functional.rabbit_helpers import FAST_RECONNECT_QUERY, WAIT, catch

pytestmark = [pytest.mark.tls, pytest.mark.timeout(180)]

STARTUP_TIMEOUT = 90
# The Debian wrapper in /usr/sbin switches to the rabbitmq user and its
# cookie; the scripts it wraps run the node as whoever runs the tests.
SCRIPT_DIRS = ('/usr/lib/rabbitmq/bin',)


def _tool(name: str) -> str:
    for directory in SCRIPT_DIRS:
        path = os.path.join(directory, name)
        if os.access(path, os.X_OK):
            return path
    found = shutil.which(name)
    if not found:
        _unavailable('%s is not installed' % name)
    return found


def _unavailable(reason: str) -> None:
    """Skip on a developer's machine; fail in CI, where the node must start."""
    reason = 'cannot run a TLS RabbitMQ node: ' + reason
    if os.environ.get('CI'):
        pytest.fail(reason)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('', 0))
        return sock.getsockname()[1]


def _openssl(*args: str, cwd: pathlib.Path) -> None:
    subprocess.run(['openssl', *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _certificate(directory: pathlib.Path, name: str, subject: str, ca: str,
                 extensions: str) -> None:
    """``<name>.key`` and ``<name>.pem`` signed by ``<ca>.pem``/``<ca>.key``."""
    (directory / (name + '.ext')).write_text(extensions + '\n')
    _openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', name + '.key', '-out',
             name + '.csr', '-subj', subject, cwd=directory)
    _openssl('x509', '-req', '-in', name + '.csr', '-CA', ca + '.pem', '-CAkey', ca + '.key',
             '-CAcreateserial', '-out', name + '.pem', '-days', '2', '-extfile',
             name + '.ext', cwd=directory)


def _make_pki(directory: pathlib.Path) -> None:
    """A CA, a server certificate for localhost/127.0.0.1, a client certificate,
    and a client certificate from a stranger CA."""
    if not shutil.which('openssl'):
        _unavailable('openssl is not installed')
    for ca in ('ca', 'stranger_ca'):
        _openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', ca + '.key',
                 '-out', ca + '.pem', '-days', '2', '-subj', '/CN=messaging test %s' % ca,
                 cwd=directory)
    _certificate(directory, 'server', '/CN=localhost', 'ca',
                 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth')
    _certificate(directory, 'client', '/CN=messaging-test-client', 'ca',
                 'extendedKeyUsage=clientAuth')
    _certificate(directory, 'stranger', '/CN=messaging-test-stranger', 'stranger_ca',
                 'extendedKeyUsage=clientAuth')


class TlsNode:
    """A RabbitMQ node with TLS listeners only, in its own directory."""

    def __init__(self, directory: pathlib.Path) -> None:
        self.directory = directory
        self.name = 'tls-%s@localhost' % uuid.uuid4().hex[:10]
        self.port = _free_port()
        home = directory / 'home'
        home.mkdir()
        cookie = home / '.erlang.cookie'
        cookie.write_text(uuid.uuid4().hex.upper())
        cookie.chmod(0o400)
        (directory / 'enabled_plugins').write_text('[].\n')
        (directory / 'rabbitmq-env.conf').write_text('')
        config = directory / 'rabbitmq.conf'
        config.write_text('\n'.join([
            'listeners.tcp = none',
            'listeners.ssl.1 = 127.0.0.1:%d' % self.port,
            'listeners.ssl.2 = 127.0.0.2:%d' % self.port,
            'ssl_options.cacertfile = %s' % (directory / 'ca.pem'),
            'ssl_options.certfile = %s' % (directory / 'server.pem'),
            'ssl_options.keyfile = %s' % (directory / 'server.key'),
            'ssl_options.verify = verify_peer',
            'ssl_options.fail_if_no_peer_cert = true',
            'loopback_users = none', '']))
        self.env = dict(os.environ, HOME=str(home), RABBITMQ_NODENAME=self.name,
                        RABBITMQ_NODE_PORT=str(_free_port()),
                        RABBITMQ_DIST_PORT=str(_free_port()),
                        RABBITMQ_MNESIA_BASE=str(directory / 'mnesia'),
                        RABBITMQ_LOG_BASE=str(directory / 'log'),
                        RABBITMQ_PID_FILE=str(directory / 'rabbitmq.pid'),
                        RABBITMQ_CONFIG_FILE=str(config),
                        RABBITMQ_ADVANCED_CONFIG_FILE=str(directory / 'advanced.config'),
                        RABBITMQ_ENABLED_PLUGINS_FILE=str(directory / 'enabled_plugins'),
                        RABBITMQ_CONF_ENV_FILE=str(directory / 'rabbitmq-env.conf'))
        self.process: subprocess.Popen | None = None

    def ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([_tool('rabbitmqctl'), '-n', self.name, *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def start(self) -> None:
        output = open(self.directory / 'server.out', 'wb')
        # A session of its own: the node's processes can be stopped as a
        # group if it does not stop when asked.
        self.process = subprocess.Popen([_tool('rabbitmq-server')], env=self.env,
                                        stdout=output, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        output.close()
        try:
            # "wait" waits for the pid file, then for the broker to boot
            # (await_startup fails at once while the node is not yet up).
            started = self.ctl('wait', self.env['RABBITMQ_PID_FILE'], '--timeout',
                               str(STARTUP_TIMEOUT), timeout=STARTUP_TIMEOUT + 30)
        except subprocess.TimeoutExpired:
            started = None
        if started is None or started.returncode != 0:
            log = (self.directory / 'server.out').read_text(errors='replace')[-2000:]
            _unavailable('node %s did not start within %d s: %s\n%s' % (
                self.name, STARTUP_TIMEOUT, started and started.stderr.strip(), log))

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            self.ctl('stop', timeout=60)
        except subprocess.TimeoutExpired:
            pass
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture(scope='module')
def tls_node(tmp_path_factory):
    directory = tmp_path_factory.mktemp('tls-node')
    _make_pki(directory)
    node = TlsNode(directory)
    try:
        node.start()
        yield node
    finally:
        node.stop()


@pytest.fixture
def transports():
    """Make transports to the TLS node; cleaned up after the test."""
    made = []

    def make(host, **options):
        query = '&'.join('%s=%s' % item for item in sorted(options.items()))
        conf = cfg.ConfigOpts()
        conf([])
        made.append(messaging.get_rpc_transport(
            conf, 'rabbit://guest:guest@%s/?ssl=true&%s&%s' % (host, FAST_RECONNECT_QUERY,
                                                            query)))
        return made[-1]

    yield make
    for transport in made:
        transport.cleanup()


def files(node, ca='ca', client='client'):
    """The ssl_* options for the CA and client certificate named."""
    options = {}
    if ca:
        options['ssl_ca_file'] = node.directory / (ca + '.pem')
    if client:
        options['ssl_cert_file'] = node.directory / (client + '.pem')
        options['ssl_key_file'] = node.directory / (client + '.key')
    return options


class Echo:
    def echo(self, ctxt, value):
        return value


@pytest.mark.parametrize('host', ['127.0.0.1', 'localhost'])
def test_a_client_trusting_the_ca_and_checking_the_host_name_connects_and_calls(
        tls_node, transports, host):
    transport = transports('%s:%d' % (host, tls_node.port), **files(tls_node))
    assert transport._driver._ssl['server_hostname'] == host
    server = messaging.get_rpc_server(transport, messaging.Target(topic='tls', server='s'),
                                      [Echo()], executor='threading')
    server.start()
    try:
        client = messaging.get_rpc_client(transport, messaging.Target(topic='tls'),
                                          timeout=WAIT)
        assert client.call({}, 'echo', value='over tls') == 'over tls'
    finally:
        server.stop()
        server.wait()


def test_servers_share_one_tls_connection_and_start_and_answer_promptly(
        tls_node, transports):
    # Over TLS the frame reader's buffer is hidden: the shared connection's
    # I/O thread reads in short bounded slices instead (reader.py).
    transport = transports('127.0.0.1:%d' % tls_node.port, **files(tls_node))
    topics = ['tls_hub_%s_%d' % (uuid.uuid4().hex[:6], n) for n in range(10)]
    began = time.monotonic()
    servers = [messaging.get_rpc_server(transport, messaging.Target(topic=topic, server='s'),
                                        [Echo()], executor='threading') for topic in topics]
    for server in servers:
        server.start()
    try:
        assert time.monotonic() - began < 10
        assert len(transport._driver._hub.connections) == 1
        for topic in topics:
            client = messaging.get_rpc_client(transport, messaging.Target(topic=topic),
                                              timeout=WAIT)
            assert client.call({}, 'echo', value=topic) == topic
    finally:
        for server in servers:
            server.stop()
        for server in servers:
            server.wait()


_REFUSED_BY_BROKER = (r'(?i)certificate.required|unknown.ca|EOF occurred in violation of '
                      r'protocol|Connection reset by peer')


@pytest.mark.parametrize('case, options, host, error', [
    ('no CA', dict(ca=None), '127.0.0.1',
     r'CERTIFICATE_VERIFY_FAILED.*self-signed certificate in certificate chain'),
    ('host not in the certificate', {}, '127.0.0.2',
     r"CERTIFICATE_VERIFY_FAILED.*IP address mismatch.*'127\.0\.0\.2'"),
])
def test_a_certificate_that_does_not_verify_fails_at_once_even_with_unlimited_retries(
        tls_node, transports, case, options, host, error):
    transport = transports('%s:%d' % (host, tls_node.port), **files(tls_node, **options))
    started = time.monotonic()
    failure = catch(transport._driver.send, messaging.Target(topic='tls'), {},
                    {'method': 'echo', 'args': {}}, retry=None)
    assert isinstance(failure, messaging.MessageDeliveryFailure), (case, failure)
    assert 'did not verify' in str(failure) and 'ssl_ca_file' in str(failure)
    assert re.search(error, str(failure)), (case, str(failure))
    assert time.monotonic() - started < 10


# With TLS 1.3 the broker checks the client certificate after the client's
# side of the handshake: the client reads the broker's alert, or, when the
# broker closed first, only that the connection ended. That looks like a
# dropped connection, so it is retried like one, within the caller's retries.
@pytest.mark.parametrize('case, options', [
    ('no client certificate', dict(client=None)),
    ('client certificate of another CA', dict(client='stranger')),
])
def test_a_client_certificate_the_broker_refuses_fails_within_its_retries(
        tls_node, transports, case, options):
    transport = transports('127.0.0.1:%d' % tls_node.port, **files(tls_node, **options))
    started = time.monotonic()
    failure = catch(transport._driver.send, messaging.Target(topic='tls'), {},
                    {'method': 'echo', 'args': {}}, retry=1)
    assert isinstance(failure, messaging.MessageDeliveryFailure), (case, failure)
    assert 'after 2 attempt(s)' in str(failure)
    assert re.search(_REFUSED_BY_BROKER, str(failure)), (case, str(failure))
    assert time.monotonic() - started < 10


def test_a_call_to_a_broker_whose_certificate_does_not_verify_ends_at_once(
        tls_node, transports):
    transport = transports('127.0.0.1:%d' % tls_node.port, **files(tls_node, ca=None))
    client = messaging.get_rpc_client(transport, messaging.Target(topic='tls'))
    outcome = []
    thread = threading.Thread(daemon=True, target=lambda: outcome.append(
        catch(client.prepare(timeout=3).call, {}, 'echo')))
    thread.start()
    thread.join(3 + 1.5)
    assert outcome, 'the call was still running past its timeout'
    failure = outcome[0]
    assert isinstance(failure, CertificateVerificationFailure), failure
    assert 'did not verify' in str(failure) and 'ssl_ca_file' in str(failure)
