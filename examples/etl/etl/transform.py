"""`python -m etl.transform --from s3://raw/ --to s3://clean/`: clean and join one day of orders.

The day is RUN_DATE (YYYY-MM-DD), which Airflow or `ecsflow run -e RUN_DATE=...` passes when the task
starts; without it, yesterday (UTC). A RUN_DATE that is not a date fails the job with exit code 2.
"""

import argparse
import datetime
import os

from etl import setup


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="etl.transform", description=__doc__)
    parser.add_argument("--from", dest="source", required=True, help="where the raw files are (s3://...)")
    parser.add_argument("--to", required=True, help="where the clean files go (s3://...)")
    args = parser.parse_args(argv)
    log = setup("transform")
    given = os.environ.get("RUN_DATE", "").strip()
    if given:
        try:
            day = datetime.date.fromisoformat(given)
        except ValueError:
            log.error("RUN_DATE %r is not a date (YYYY-MM-DD)", given)
            return 2
    else:
        day = datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=1)
        log.info("RUN_DATE not set: using yesterday")
    log.info("RUN_DATE %s: reading %s%s/", day.isoformat(), args.source, day.isoformat())
    log.info("spark driver memory %s", os.environ.get("SPARK_DRIVER_MEMORY", "(default)"))
    log.info("would write the clean orders of %s to %s%s/", day.isoformat(), args.to, day.isoformat())
    log.info("done (stand-in job: nothing was read or written)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
