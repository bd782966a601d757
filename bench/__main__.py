"""`python -m bench` entry point; everything lives in :mod:`bench.cli`."""

from bench.cli import main

raise SystemExit(main())
