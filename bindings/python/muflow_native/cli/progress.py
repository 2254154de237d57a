"""Progress display for `muflow run`.

The renderers are pure functions of a snapshot (anything with the counters of
`muflow_native.backends.base.RunSnapshot`: total, succeeded, cached, failed, skipped,
running, elapsed and done) so that they are tested without a terminal; the display
classes decide when to draw and where. A task's own progress reports (`note`) go to
standard error, never among the results on standard output.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Optional, TextIO

#: The live bar is redrawn at most this often (seconds).
BAR_INTERVAL = 0.1
#: Plain lines: at most one a second, one per 10% of the nodes, and a heartbeat
#: when nothing else was printed for this long (seconds).
LINE_MIN_INTERVAL = 1.0
LINE_HEARTBEAT = 10.0


def format_duration(seconds: Optional[float]) -> str:
    """``0.42s``, ``12.3s``, ``4m05s``, ``2h03m``; ``--`` when unknown."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "--"
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    seconds = int(round(seconds))
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _done(snapshot) -> int:
    return snapshot.succeeded + snapshot.cached + snapshot.failed + snapshot.skipped


def eta(snapshot) -> Optional[float]:
    """Seconds left, from the rate of the nodes that actually ran (cached nodes take no
    time, so counting them would promise too much); None while nothing has run yet."""
    remaining = snapshot.total - _done(snapshot)
    if remaining <= 0:
        return 0.0
    worked = snapshot.succeeded + snapshot.failed
    if worked == 0 or snapshot.elapsed <= 0:
        return None
    return snapshot.elapsed / worked * remaining


def _fraction(snapshot) -> float:
    return _done(snapshot) / snapshot.total if snapshot.total else 1.0


def _stats(snapshot, *, compact: bool = False) -> str:
    done, total = _done(snapshot), snapshot.total
    parts = [f"{done}/{total}", f"{int(_fraction(snapshot) * 100):3d}%"]
    parts.append(f"cached {snapshot.cached}")
    parts.append(f"failed {snapshot.failed}")
    if snapshot.skipped:
        parts.append(f"skipped {snapshot.skipped}")
    if snapshot.stale:
        parts.append(f"stale {snapshot.stale}")
    if not compact:
        parts.append(format_duration(snapshot.elapsed))
        if done < total:
            parts.append(f"ETA {format_duration(eta(snapshot))}")
    return "  ".join(parts)


def render_bar(snapshot, width: int) -> str:
    """One line of at most ``width - 1`` characters (the last column is left free so that
    no terminal wraps): ``[#####-----] 7/11  63%  cached 3  failed 0  1.2s  ETA 0.7s``.
    Narrow terminals lose the bar first, then elapsed and ETA."""
    room = max(width - 1, 1)
    stats = _stats(snapshot)
    bar_width = room - len(stats) - 3  # "[" + bar + "] "
    if bar_width >= 10:
        bar_width = min(bar_width, 40)
        filled = int(round(_fraction(snapshot) * bar_width))
        line = "[" + "#" * filled + "-" * (bar_width - filled) + "] " + stats
    elif len(stats) <= room:
        line = stats
    else:
        line = _stats(snapshot, compact=True)
    return line[:room]


def render_line(snapshot) -> str:
    """A plain progress line for logs: ``[ 63%] 7/11 nodes done (3 cached, 0 failed), 1.2s, ETA 0.7s``."""
    done, total = _done(snapshot), snapshot.total
    details = f"{snapshot.cached} cached, {snapshot.failed} failed"
    if snapshot.skipped:
        details += f", {snapshot.skipped} skipped"
    if snapshot.stale:
        details += f", {snapshot.stale} stale"
    line = f"[{int(_fraction(snapshot) * 100):3d}%] {done}/{total} nodes done ({details}), {format_duration(snapshot.elapsed)}"
    if done < total:
        line += f", ETA {format_duration(eta(snapshot))}"
    return line


class _Notes:
    """`note(text)`: a line from a running task, written whole to `err` (standard error
    by default); called from worker threads."""

    _err: Optional[TextIO] = None
    _note_lock = threading.Lock()

    def note(self, text: str) -> None:
        err = self._err or sys.stderr
        with self._note_lock:
            err.write(text + "\n")
            err.flush()


class NullDisplay(_Notes):
    def __init__(self, err: Optional[TextIO] = None):
        self._err = err

    def __call__(self, snapshot) -> None:
        pass

    def finish(self) -> None:
        pass


class LiveBar(_Notes):
    """Redraws `render_bar` in place with ``\\r`` (at most every BAR_INTERVAL seconds);
    `finish` draws the last state and ends the line. A note clears the bar first; the
    next snapshot draws it again."""

    def __init__(self, stream: TextIO, width_source=None, clock=time.monotonic, err: Optional[TextIO] = None):
        import shutil

        self._err = err
        self._note_lock = threading.Lock()
        self._stream = stream
        self._width = width_source or (lambda: shutil.get_terminal_size((80, 24)).columns)
        self._clock = clock
        self._last_draw: Optional[float] = None
        self._last_len = 0
        self._latest = None
        self._drawn = None

    def __call__(self, snapshot) -> None:
        self._latest = snapshot
        now = self._clock()
        if self._last_draw is not None and now - self._last_draw < BAR_INTERVAL:
            return
        self._last_draw = now
        with self._note_lock:
            self._draw(snapshot)

    def note(self, text: str) -> None:
        err = self._err or sys.stderr
        with self._note_lock:
            if self._last_len:
                self._stream.write("\r" + " " * self._last_len + "\r")
                self._stream.flush()
                self._last_len = 0
                self._last_draw = None
            err.write(text + "\n")
            err.flush()

    def _draw(self, snapshot) -> None:
        line = render_bar(snapshot, self._width())
        pad = " " * max(self._last_len - len(line), 0)
        self._stream.write("\r" + line + pad)
        self._stream.flush()
        self._last_len = len(line)
        self._drawn = snapshot

    def finish(self) -> None:
        if self._latest is not None:
            with self._note_lock:
                if self._latest is not self._drawn or not self._last_len:
                    self._draw(self._latest)
                self._stream.write("\n")
                self._stream.flush()


class PlainLines(_Notes):
    """Progress as whole lines, for logs and pipes: a line when another tenth of the
    nodes is done (at most one a second), a heartbeat after LINE_HEARTBEAT seconds of
    silence, and the final state; so a run prints about a dozen lines however big."""

    def __init__(self, stream: TextIO, clock=time.monotonic, err: Optional[TextIO] = None):
        self._err = err
        self._stream = stream
        self._clock = clock
        self._last_time: Optional[float] = None
        self._last_decile = 0
        self._last_done = -1
        self._latest = None

    def __call__(self, snapshot) -> None:
        self._latest = snapshot
        now = self._clock()
        done = _done(snapshot)
        if done >= snapshot.total:
            return  # the final line is finish()'s
        decile = int(_fraction(snapshot) * 10)
        since = None if self._last_time is None else now - self._last_time
        if since is not None and since < LINE_MIN_INTERVAL:
            return
        if decile > self._last_decile or (since is None and done > 0) or (
            since is not None and since >= LINE_HEARTBEAT and done != self._last_done
        ):
            self._emit(snapshot, now)
            self._last_decile = decile
        elif since is None:
            self._last_time = now  # start the heartbeat clock

    def _emit(self, snapshot, now) -> None:
        self._stream.write(render_line(snapshot) + "\n")
        self._stream.flush()
        self._last_time = now
        self._last_done = _done(snapshot)

    def finish(self) -> None:
        if self._latest is not None:
            self._emit(self._latest, self._clock())


def make_display(stream: TextIO, *, quiet: bool = False, live: Optional[bool] = None, err: Optional[TextIO] = None):
    """The display for `stream`: nothing when quiet, the live bar on a terminal, plain
    lines otherwise; notes go to `err` (default: standard error)."""
    if quiet:
        return NullDisplay(err)
    if live is None:
        isatty = getattr(stream, "isatty", None)
        live = bool(isatty and isatty())
    return LiveBar(stream, err=err) if live else PlainLines(stream, err=err)
