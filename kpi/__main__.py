"""Entry point of `python -m kpi`."""

import sys

if sys.argv[1:2] == ["serve"]:
    # the supervisor of `kpi serve` lives as long as the server: it imports only what it needs (not the
    # other commands' DuckDB, pandas, plotly: kpi.serving.command)
    from kpi.serving.command import main
else:
    from kpi.cli import main

sys.exit(main())
