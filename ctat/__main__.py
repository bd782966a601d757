"""`python -m ctat` entry point; everything lives in :mod:`ctat.cli`."""

from ctat.cli import main

raise SystemExit(main())
