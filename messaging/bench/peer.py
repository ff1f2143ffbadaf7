"""The server side of a cross-process run, in a process of its own.

    python peer.py LIBRARY URL SUFFIX

Deployments run RPC servers and notification listeners in other processes
than their clients; so does the benchmark by default. The client's process
(``workload.py`` or ``bare.py``) starts this one with :class:`Peer`: for
``messaging`` or ``oslo_messaging`` it runs the RPC server and the
notification listener of :class:`workload.LibraryServer`, for ``amqp`` the
floors' echo server and counting consumer (:class:`bare.FloorServers`),
all named after ``SUFFIX``. It is run by path with the client's interpreter
and environment.

The two talk in lines, the client writing to this process's stdin and
reading its stdout (whatever the libraries print goes to stderr):

- ``ready`` once everything consumes;
- ``expect N``: ``ok`` at once, then ``done`` when N casts or notifications
  were handled (``error ...`` after ``workload.END_TO_END_TIMEOUT``);
- ``threads``: ``{native id: name}`` of this process's threads, as JSON;
- ``stop``: everything is stopped, what it declared deleted, and the last
  line is ``{"peak_rss_mb": ...}``.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from typing import Any, TextIO

PEER_SCRIPT = os.path.abspath(__file__)


class PeerError(RuntimeError):
    """The peer process failed or answered out of turn."""


class Peer:
    """The client's handle on the server-side process: start it, tell it
    how many messages to expect, wait for them, stop it.

    It stands where the in-process server would: it is its own
    :attr:`counter` (the ``expect``/``wait`` pair of
    :class:`workload.Counter`), and it deletes what its process declared.
    """

    peak_rss_mb = None

    def __init__(self, library: str, url: str, suffix: str) -> None:
        self._process = subprocess.Popen(
            [sys.executable, '-W', 'ignore', PEER_SCRIPT, library, url, suffix],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.library = library
        try:
            self._answer('ready')
        except BaseException:
            self._end()
            raise

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def counter(self) -> Peer:
        return self

    def declared(self) -> tuple[list[str], list[str]]:
        """Nothing for the client to delete: the peer deletes its own."""
        return [], []

    def _tell(self, command: str) -> None:
        self._process.stdin.write(command + '\n')
        self._process.stdin.flush()

    def _read(self) -> str:
        line = self._process.stdout.readline()
        if not line:
            status = self._process.wait()
            raise PeerError('the %s server process ended (exit status %s)'
                            % (self.library, status))
        return line.rstrip('\n')

    def _answer(self, expected: str) -> None:
        line = self._read()
        if line != expected:
            raise PeerError('the %s server process said %r, not %r'
                            % (self.library, line, expected))

    def expect(self, count: int) -> None:
        """Start counting afresh towards ``count`` handled messages."""
        self._tell('expect %d' % count)
        self._answer('ok')

    def wait(self) -> None:
        """Wait until the expected messages were handled."""
        self._answer('done')

    def thread_names(self) -> dict:
        """``{native id: name}`` of the peer's threads."""
        self._tell('threads')
        return {int(tid): name for tid, name in json.loads(self._read()).items()}

    def close(self) -> None:
        """Stop the peer and keep its :attr:`peak_rss_mb`."""
        try:
            self._tell('stop')
            self.peak_rss_mb = json.loads(self._read())['peak_rss_mb']
        finally:
            self._end()

    def _end(self) -> None:
        for stream in (self._process.stdin, self._process.stdout):
            stream.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def _server(library: str, url: str, suffix: str) -> Any:
    if library == 'amqp':
        import bare
        return bare.FloorServers(url, suffix)
    import workload
    return workload.LibraryServer(library, url, suffix)


def serve(library: str, url: str, suffix: str, commands: TextIO, replies: TextIO) -> None:
    """Run the server side until ``stop``, answering ``commands``."""
    import workload

    def reply(text: str) -> None:
        replies.write(text + '\n')
        replies.flush()

    server = _server(library, url, suffix)
    try:
        reply('ready')
        for line in commands:
            verb, _, argument = line.strip().partition(' ')
            if verb == 'expect':
                server.counter.expect(int(argument))
                reply('ok')
                try:
                    server.counter.wait()
                except RuntimeError as ex:
                    reply('error %s' % ex)
                else:
                    reply('done')
            elif verb == 'threads':
                import cpu_time
                reply(json.dumps(cpu_time.own_thread_names()))
            elif verb == 'stop':
                break
            else:
                reply('error unknown command %r' % line)
    finally:
        queues, exchanges = server.declared()
        server.close()
        workload.delete_declared(url, queues, exchanges)
    # ru_maxrss is in KiB on Linux.
    reply(json.dumps({'peak_rss_mb':
                      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))


def main(argv: list[str]) -> int:
    library, url, suffix = argv
    # The answers keep the real stdout; anything the libraries print goes
    # to stderr instead of into the conversation.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), 'w', encoding='utf-8')
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(library, url, suffix, sys.stdin, replies)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
