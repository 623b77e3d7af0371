"""`python -m etl.load --from s3://clean/ --table schema.table`: load the clean files into the warehouse.

The password comes from WAREHOUSE_PASSWORD, which ECS sets from SSM Parameter Store (x-ecsflow.secrets).
Where it is not set (`ecsflow run --sandbox --execute-locally` resolves no secrets) the stand-in says so and
does a dry run.
"""

import argparse
import os

from etl import setup


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="etl.load", description=__doc__)
    parser.add_argument("--from", dest="source", required=True, help="where the clean files are (s3://...)")
    parser.add_argument("--table", required=True, help="the warehouse table, schema.table")
    args = parser.parse_args(argv)
    log = setup("load")
    host = os.environ.get("WAREHOUSE_HOST", "(WAREHOUSE_HOST not set)")
    user = os.environ.get("WAREHOUSE_USER", "(WAREHOUSE_USER not set)")
    if not os.environ.get("WAREHOUSE_PASSWORD"):
        log.warning("WAREHOUSE_PASSWORD is not set: dry run, no connection to %s", host)
    log.info("would load %s into %s on %s as %s", args.source, args.table, host, user)
    log.info("done (stand-in job: nothing was loaded)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
