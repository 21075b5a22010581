"""`python -m dream_engine_ros.cli`: the `dream-engine` console script."""

from __future__ import annotations

from dream_engine_ros.cli import main

raise SystemExit(main())
