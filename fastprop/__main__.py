"""`python -m fastprop ...`: the same as the `fastprop` command."""
from .cli import main

raise SystemExit(main())
