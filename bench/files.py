"""Files written whole or not at all: a temporary name of this process's own, then a rename.

    from bench.files import write_atomic
    write_atomic(run_dir / "units" / "unit-00003-1a2b3c4d5e6f.npz", data)

A reader never sees half a file (a killed process leaves only its ``.tmp-*`` file, which no
reader looks at), and writers running at once never interleave: each writes its own temporary
file and the last rename wins (POSIX rename is atomic within a file system).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

TEMPORARY_PREFIX = ".tmp-"


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (creating the parent folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMPORARY_PREFIX}{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
