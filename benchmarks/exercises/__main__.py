"""``python -m benchmarks.exercises``."""

from benchmarks.exercises import main

raise SystemExit(main())
