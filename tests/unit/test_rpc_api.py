"""The public RPC names: where they live, what they subclass, the demo."""
from __future__ import annotations

import subprocess
import sys

import messaging
from messaging import wire
from messaging.rpc import dispatcher as rpc_dispatcher

PUBLIC_NAMES = {
    'RPCClient', 'get_rpc_client', 'RemoteError', 'ClientSendError', 'RPCVersionCapError',
    'get_rpc_transport', 'get_rpc_server', 'expose', 'expected_exceptions', 'ExpectedException',
    'RPCDispatcher', 'RPCDispatcherError', 'NoSuchMethod', 'UnsupportedVersion',
    'RPCAccessPolicyBase', 'LegacyRPCAccessPolicy', 'DefaultRPCAccessPolicy',
    'ExplicitRPCAccessPolicy',
}


def test_rpc_package_exports_the_oslo_names_at_both_levels():
    assert set(messaging.rpc.__all__) == PUBLIC_NAMES
    for name in PUBLIC_NAMES:
        assert getattr(messaging, name) is getattr(messaging.rpc, name)


def test_exceptions_live_in_the_modules_oslo_uses():
    for name in ('RemoteError', 'ClientSendError', 'RPCVersionCapError'):
        assert getattr(messaging, name).__module__ == 'messaging.rpc.client'
    for name in ('NoSuchMethod', 'UnsupportedVersion', 'RPCDispatcherError',
                 'ExpectedException'):
        assert getattr(messaging, name).__module__ == 'messaging.rpc.dispatcher'


def test_dispatcher_errors_subclass_what_oslo_subclasses():
    assert issubclass(messaging.RPCDispatcherError, messaging.MessagingServerError)
    assert issubclass(messaging.NoSuchMethod, messaging.RPCDispatcherError)
    assert issubclass(messaging.NoSuchMethod, AttributeError)
    assert issubclass(messaging.UnsupportedVersion, messaging.RPCDispatcherError)


def test_dispatcher_failures_travel_under_the_oslo_module_name():
    failure = wire.serialize_remote_exception(rpc_dispatcher.NoSuchMethod('m'))
    assert '"module": "oslo_messaging.rpc.dispatcher"' in failure
    assert '"class": "NoSuchMethod"' in failure


def test_demo_runs_a_call_and_a_cast_and_exits_zero():
    done = subprocess.run([sys.executable, '-m', 'messaging.demo'], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "Hello, world (from user alice)" in done.stdout
    assert 'handled' in done.stdout
