"""Progress of a benchmark run: one tqdm bar over every workload step of
every library and round.

The workloads run in subprocesses (one per library and round, some under
oslo.messaging's interpreter), so each gets the write end of a pipe, named by
``PROGRESS_FD_ENV``, and writes a line per step to it
(:func:`messaging.bench.workload.progress`); a thread here reads the lines
and moves the bar. Without a terminal (CI logs), on a terminal 0 columns
wide or without tqdm (the ``bench`` extra) the same lines are printed as
plain text instead.
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading
from typing import Any, Iterator, Optional

from messaging.bench.workload import PROGRESS_FD_ENV


def terminal_columns(stream: Any) -> Optional[int]:
    """The width of the terminal ``stream`` writes to: ``COLUMNS`` when it
    is set to a number, else what the terminal says; None when neither
    says. A bar drawn 0 columns wide shows nothing at all, so at 0 the
    plain lines are written instead."""
    try:
        return int(os.environ['COLUMNS'])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):  # no file, or not a terminal
        return None


class RunProgress:
    """The bar of one benchmark run of ``total`` workload steps."""

    def __init__(self, total: int, enabled: bool = True, stream: Any = None) -> None:
        self._stream = sys.stderr if stream is None else stream
        self._finished = 0
        self._bar: Any = None
        self._lock = threading.Lock()
        if enabled and terminal_columns(self._stream) != 0:
            try:
                from tqdm import tqdm
            except ImportError:
                self._write("(no progress bar: pip install 'messaging[bench]' for one)\n")
            else:
                # disable=None: no bar when stderr is not a terminal.
                self._bar = tqdm(total=total, unit='step', disable=None, file=self._stream,
                                 dynamic_ncols=True, leave=True)
                if self._bar.disable:
                    self._bar = None

    def start(self, library: str, number: int, rounds: int) -> None:
        """A library's round begins."""
        if self._bar is None:
            self._write('round %d/%d: %s\n' % (number, rounds, library))
        else:
            self._bar.set_description('round %d/%d %s' % (number, rounds, library))

    @contextlib.contextmanager
    def child(self) -> Iterator[tuple[dict, tuple[int, ...]]]:
        """``(environment, pass_fds)`` for one workload subprocess; its step
        lines are read until the block ends (after the subprocess did)."""
        read_fd, write_fd = os.pipe()
        reader = threading.Thread(target=self._read, args=(read_fd,), daemon=True,
                                  name='bench-progress')
        reader.start()
        try:
            yield {PROGRESS_FD_ENV: str(write_fd)}, (write_fd,)
        finally:
            os.close(write_fd)  # the reader sees the end once the child's copy is gone too
            reader.join()

    def _read(self, read_fd: int) -> None:
        # A line says a step begins; so the one before it is done, and
        # the last is done when the child closes its end.
        begun = False
        with os.fdopen(read_fd, 'r', encoding='utf-8', errors='replace') as lines:
            for line in lines:
                self.step(line.strip(), finished=begun)
                begun = True
        if begun:
            self.step(None, finished=True)

    def step(self, text: str | None, finished: bool) -> None:
        """The step named ``text`` begins (None: no more steps), after one
        was ``finished``."""
        if finished:
            self._finished += 1
        if self._bar is None:
            if text is not None:
                self._write('  %s\n' % text)
            return
        with self._lock:
            if text is not None:
                self._bar.set_postfix_str(text, refresh=False)
            self._bar.update(1 if finished else 0)

    @property
    def finished(self) -> int:
        """Workload steps finished so far."""
        return self._finished

    @property
    def shows_bar(self) -> bool:
        """Whether a bar is drawn (else plain lines are written)."""
        return self._bar is not None

    def _write(self, text: str) -> None:
        with self._lock:
            self._stream.write(text)
            self._stream.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


@contextlib.contextmanager
def for_run(total: int, enabled: bool) -> Iterator[RunProgress]:
    """A :class:`RunProgress` on stderr, closed at the end of the block."""
    progress = RunProgress(total, enabled)
    try:
        yield progress
    finally:
        progress.close()
