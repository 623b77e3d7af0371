"""Stand-ins for the ETL team's job code, so that the example's commands really run.

In the real project each job lives in its image (`etl/extract`, `etl/transform`, `etl/load`); these modules
only print what the job would do, with the arguments and environment the container gets. `ecsflow run
--sandbox --execute-locally` runs them on this machine (`python -m etl.transform ...` in this folder), and so does
`python -m etl.transform --help`.
"""

import logging
import os
import sys


def setup(job: str) -> logging.Logger:
    """Log lines as the jobs write them: one line each, to stdout (the awslogs driver sends both streams)."""
    logging.basicConfig(stream=sys.stdout, level=os.environ.get("LOG_LEVEL", "info").upper(),
                        format="%(levelname)s %(name)s: %(message)s")
    return logging.getLogger(job)
