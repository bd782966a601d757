"""Progress display for long work: a tqdm bar on a terminal, periodic lines otherwise.

    bar = Progress(total=12000, desc="pairs")
    bar.update(32); ...; bar.close()
    bar.note("loss 0.412")          # shown beside the count (training losses, rates)
"""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(
        self, total: int, desc: str, enabled: bool = True, every_s: float = 10.0,
        unit: str = "pair",
    ) -> None:
        self.total, self.desc, self.enabled = total, desc, enabled
        self.done = 0
        self._note = ""
        self._bar = None
        self._every = every_s
        self._start = self._last = time.perf_counter()
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, mininterval=0.5, file=sys.stderr)

    def note(self, text: str) -> None:
        self._note = text
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)

    def update(self, n: int) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.enabled:
            now = time.perf_counter()
            if now - self._last >= self._every or self.done == self.total:
                self._last = now
                rate = self.done / max(now - self._start, 1e-9)
                note = f" {self._note}" if self._note else ""
                print(f"  {self.desc}: {self.done}/{self.total} ({rate:.0f}/s){note}",
                      file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
