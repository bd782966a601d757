"""Why a value is missing, said short, and text made fit for a paper (no paths, no URLs)::

    from bench.report.reasons import short_reason, without_locations, needs_weights
    short_reason("inception-fid weights (weights-inception-....pth, torch-fidelity) not found: "
                 "looked in /root/.cache/torch/hub/checkpoints/...")   # 'weights not provided'
    without_locations("see /root/.cache/x/alexnet.pth or https://h.org/m/a.pth")
    # 'see alexnet.pth or a.pth'

A record keeps the long reason (the file looked for, every place looked in, how to provide it):
the CSV and the HTML page show it. Tables for papers and the console summary group the missing
metrics by the short class of their reason, one line each (:data:`REASON_CLASSES`, matched in
order against the long text; the first match wins).
"""

from __future__ import annotations

import re

WEIGHTS_NOT_PROVIDED = "weights not provided"
WEIGHTS_NOT_USABLE = "weights not usable"

#: (short class, pattern searched in the long reason), first match wins. The messages come from
#: bench.weights.resolve, bench/metrics/inception.py, bench/metrics/pckh.py,
#: bench/pose/precomputed.py and bench/efficiency/probe.py (tests/report/test_reasons.py feeds
#: the real ones).
REASON_CLASSES: tuple[tuple[str, str], ...] = (
    (WEIGHTS_NOT_PROVIDED, r"\bweights\b.*\bnot found\b"),
    (WEIGHTS_NOT_USABLE, r"\bweights\b"),
    ("no training folder", r"--train-folder|\btraining folder\b"),
    ("keypoints file not usable", r"--keypoints\b|\bkeypoints"),
    ("device not available", r"\b(CUDA|MPS|device)\b"),
    ("not measurable for this model", r"\bexample_inputs\b"),
)
WEIGHTS_CLASSES = (WEIGHTS_NOT_PROVIDED, WEIGHTS_NOT_USABLE)
WEIGHTS_HINT = "see `python -m bench weights`"

_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s,;()\[\]\"'<>]+", re.IGNORECASE)
# an absolute or home-relative path: starts the text or follows a space, bracket, quote or "="
_PATH = re.compile(r"(?:(?<=^)|(?<=[\s(\[=\"']))(?:~|[A-Za-z]:)?[/\\][^\s,;()\[\]\"'<>]+")
_LEADING = "unavailable: "
_FALLBACK_LENGTH = 60


def _last_part(location: str) -> str:
    """The file name of a path or URL, keeping a sentence's full stop or colon after it."""
    body = location.rstrip(".:")
    parts = [p for p in re.split(r"[/\\]", body) if p]
    return (parts[-1] if parts else "") + location[len(body):]


def _url_tail(match: re.Match) -> str:
    path = match.group(0).split("://", 1)[1].partition("/")[2]  # the host is dropped
    return _last_part(path) if path.strip("/.:") else ""


def without_locations(text: str) -> str:
    """``text`` with every URL and absolute path replaced by its last part (the file name)."""
    return _PATH.sub(lambda m: _last_part(m.group(0)), _URL.sub(_url_tail, text))


def short_reason(reason: str | None) -> str:
    """The short class of a long unavailable reason (a few words, no paths); text no class
    matches is shortened to its first clause, without locations."""
    text = (reason or "unavailable").removeprefix(_LEADING).strip()
    for name, pattern in REASON_CLASSES:
        if re.search(pattern, text, flags=re.IGNORECASE):
            return name
    first = without_locations(re.split(r"[:;(]", text, maxsplit=1)[0]).strip()
    if len(first) > _FALLBACK_LENGTH:
        first = first[:_FALLBACK_LENGTH - 3].rstrip() + "..."
    return first or "unavailable"


def needs_weights(short: str) -> bool:
    """Whether a short class is cured by providing weights (`python -m bench weights`)."""
    return short in WEIGHTS_CLASSES


def network_of(reason: str | None) -> str | None:
    """The weights name a long reason is about (``alexnet weights (...) not found`` ->
    ``alexnet``), or None."""
    m = re.search(r"(?:^|:\s*)([\w.-]+) weights\b", (reason or "").removeprefix(_LEADING))
    return m.group(1) if m else None


def said_once(items) -> list[str]:
    """``(name, long reason)`` pairs -> one short line per kind of reason, each name once:
    ``lpips, fid: weights not provided (alexnet, inception-fid); see `python -m bench weights` ``
    (the run's first lines and the console summary say it this way)."""
    groups: dict[str, tuple[dict, dict]] = {}
    for name, reason in items:
        names, networks = groups.setdefault(short_reason(reason), ({}, {}))
        names[name] = None
        network = network_of(reason)
        if network:
            networks[network] = None
    lines = []
    for short, (names, networks) in groups.items():
        line = f"{', '.join(names)}: {short}"
        line += f" ({', '.join(networks)})" if networks else ""
        lines.append(line + (f"; {WEIGHTS_HINT}" if needs_weights(short) else ""))
    return lines
