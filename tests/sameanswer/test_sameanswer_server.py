"""The server lifecycle answers as oslo.messaging 18.3.1's does."""

SETUP = """
import threading
conf = cfg.ConfigOpts()
transport = om.get_rpc_transport(conf, 'fake:')
class Endpoint:
    def echo(self, ctxt, value):
        return value
def server_for(target=om.Target(topic='sa-server', server='s1'), **kwargs):
    return om.get_rpc_server(transport, target, [Endpoint()], **kwargs)
"""


def test_stop_and_wait_before_start_wait_for_it(same_answer):
    same_answer(SETUP + """
server = server_for()
observe('wait early', outcome(server.wait, timeout=0.2))
observe('stop early', outcome(server.stop, timeout=0.2))
stopper = threading.Thread(target=server.stop)
stopper.start()
server.start()
stopper.join(10)
observe('stopper finished', not stopper.is_alive())
observe('wait', outcome(server.wait, timeout=10))
observe('restart', outcome(server.start))
server.stop()
server.wait()
    """)


def test_lifecycle_names_and_service_base(same_answer):
    same_answer(SETUP + """
from oslo_service import service
server = server_for()
observe('service base', isinstance(server, service.ServiceBase))
observe('default log after', om.server.DEFAULT_LOG_AFTER)
observe('task timeout', issubclass(om.server.TaskTimeout, om.MessagingServerError))
observe('reset', outcome(server.reset))
    """)


def test_start_with_a_bad_target(same_answer):
    same_answer(SETUP + """
server = server_for(om.Target(topic='sa-server'))
observe('start', outcome(server.start))
    """)


def test_executor_argument_warnings_and_errors(same_answer):
    same_answer(SETUP + """
observe('no executor', warned(server_for))
observe('threading', warned(server_for, executor='threading'))
observe('bogus', outcome(server_for, executor='bogus'))
observe('executor type', server_for().executor_type)
    """)


def test_launch_with_oslo_service(same_answer):
    same_answer(SETUP + """
from oslo_service import service
server = server_for()
launcher = service.launch(conf, server, restart_method='mutate')
observe('launcher', type(launcher).__name__)
# The launcher starts the server on a green thread (oslo.service's eventlet
# backend): yield to it until it listens. oslo's client needs its tracing
# options registered on conf to call, so the listener is what is observed.
import eventlet
for _ in range(1000):
    if server.listener is not None:
        break
    eventlet.sleep(0.01)
observe('listening', server.listener is not None)
launcher.stop()
observe('stopped', outcome(server.wait, timeout=10))
    """)
