"""OpenTelemetry and oslo.metrics stay optional: without them the library
imports, and tracing enabled without OpenTelemetry says so once and goes on."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Run in a fresh interpreter in which the optional packages cannot be
# imported (a None entry in sys.modules makes ``import`` raise ImportError).
SCRIPT = r'''
import logging, sys
for name in ('opentelemetry', 'oslo_metrics', 'prometheus_client'):
    sys.modules[name] = None
records = []
class Keep(logging.Handler):
    def emit(self, record):
        records.append(record)
logging.getLogger('messaging.observability').addHandler(Keep())
from oslo_config import cfg
import messaging
conf = cfg.ConfigOpts()
conf([])
transport = messaging.get_rpc_transport(conf, 'fake://')
conf.set_override('tracing_enabled', True, 'oslo_messaging_tracing')
class Echo:
    def echo(self, ctxt, value):
        return value
server = messaging.get_rpc_server(transport, messaging.Target(topic='t', server='s'), [Echo()])
server.start()
client = messaging.get_rpc_client(transport, messaging.Target(topic='t'))
assert [client.call({}, 'echo', value=i) for i in range(3)] == [0, 1, 2]
server.stop()
server.wait()
warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
assert len(warnings) == 1, warnings
assert 'messaging[tracing]' in warnings[0], warnings
assert not any(m.startswith('opentelemetry') for m in sys.modules if sys.modules[m])
print('ok')
'''


def test_without_opentelemetry_tracing_warns_once_and_calls_go_on():
    out = subprocess.run([sys.executable, '-c', SCRIPT], cwd=str(REPO), capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == 'ok'
