"""What the --scale mode reads from /proc about its own process."""
import socket
import threading

from messaging.bench import scale


def test_broker_connections_counts_established_sockets_to_the_port():
    with socket.create_server(('127.0.0.1', 0)) as server:
        port = server.getsockname()[1]
        assert scale.broker_connections(port) == 0
        clients = [socket.create_connection(('127.0.0.1', port)) for _ in range(2)]
        accepted = [server.accept()[0] for _ in clients]
        try:
            # The accepted ends are local to the port, not connected to it.
            assert scale.broker_connections(port) == 2
        finally:
            for sock in clients + accepted:
                sock.close()
        assert scale.broker_connections(port) == 0


def test_process_threads_sees_a_new_thread():
    before = scale.process_threads()
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        assert scale.process_threads() == before + 1
    finally:
        release.set()
        thread.join()


def test_rss_is_that_of_a_python_process():
    assert 1.0 < scale.rss_mb() < 10_000.0


def test_arrivals_wait_for_every_listener_once():
    arrivals = scale.Arrivals(2)
    arrivals.arrived(0)
    arrivals.arrived(0)
    assert not arrivals.done.is_set()
    arrivals.arrived(1)
    assert arrivals.done.is_set()
