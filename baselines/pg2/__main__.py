"""`python -m baselines.pg2` entry point; everything lives in :mod:`baselines.pg2.cli`."""

from baselines.pg2.cli import main

raise SystemExit(main())
