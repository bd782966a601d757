"""Progress display for long work: a tqdm bar on a terminal, periodic lines otherwise.

    bar = Progress(total=12000, desc="pairs")
    bar.update(32); ...; bar.close()
    bar.note("loss 0.412")          # shown beside the count (training losses, rates)

Off a terminal (a log file, CI) a line every ``every_s`` seconds and at the end, with the mean
rate since the start and the time left at that rate::

      pairs: 1200/12000 (35/s, about 5 min left)
      pairs: 12000/12000 (35/s, 6 min)

``clock`` is injectable (tests drive a fake one); :func:`format_duration` is the wording.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable


def format_duration(seconds: float) -> str:
    """A human duration: ``40 s``, ``5 min``, ``1.5 h`` (two significant figures at most)."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.2g} h" if seconds < 10 * 3600 else f"{round(seconds / 3600)} h"


def format_rate(per_second: float) -> str:
    """``35/s``; slow rates keep two significant figures (``0.41/s``, ``2.8/s``)."""
    return f"{per_second:.0f}/s" if per_second >= 10 else f"{per_second:.2g}/s"


class Progress:
    def __init__(
        self, total: int, desc: str, enabled: bool = True, every_s: float = 10.0,
        unit: str = "pair", clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.total, self.desc, self.enabled = total, desc, enabled
        self.done = 0
        self._note = ""
        self._bar = None
        self._every = every_s
        self._clock = clock
        self._start = self._last = clock()
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, mininterval=0.5, file=sys.stderr)

    def note(self, text: str) -> None:
        self._note = text
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)

    def line(self, now: float) -> str:
        """The periodic line at time ``now`` of the clock: count, mean rate, time left."""
        elapsed = max(now - self._start, 1e-9)
        rate = self.done / elapsed
        if self.done >= self.total:
            timing = format_duration(elapsed)
        elif self.done > 0:
            timing = f"about {format_duration((self.total - self.done) / rate)} left"
        else:
            timing = "no estimate yet"
        note = f" {self._note}" if self._note else ""
        return f"  {self.desc}: {self.done}/{self.total} ({format_rate(rate)}, {timing}){note}"

    def update(self, n: int) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.enabled:
            now = self._clock()
            if now - self._last >= self._every or self.done == self.total:
                self._last = now
                print(self.line(now), file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
