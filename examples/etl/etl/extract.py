"""`python -m etl.extract --source orders --to s3://bucket/prefix/`: pull yesterday's orders from the shop API."""

import argparse
import os

from etl import setup


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="etl.extract", description=__doc__)
    parser.add_argument("--source", required=True, help="the shop API resource to read, e.g. orders")
    parser.add_argument("--to", required=True, help="where the raw files go (s3://...)")
    args = parser.parse_args(argv)
    log = setup("extract")
    api = os.environ.get("SHOP_API_URL", "(SHOP_API_URL not set)")
    page_size = int(os.environ.get("PAGE_SIZE", "100"))
    log.info("reading %s from %s, %d records a page", args.source, api, page_size)
    log.info("would write the raw pages to %s", args.to)
    log.info("done (stand-in job: nothing was read or written)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
