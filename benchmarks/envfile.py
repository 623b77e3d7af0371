"""Env-file parser time on large files: 8k lines, 32k lines and 10 MB of dotenv text.

`.venv/bin/python benchmarks/envfile.py` times `ecsflow.compose.envfile.parse_env_text`;
`--module FILE` times the parser of another copy of envfile.py (e.g. an older one from `git show`), to compare.
Linear work shows as a time per line that stays flat from 8k lines to 10 MB.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time


def dotenv_text(lines: int) -> str:
    """A mix of the forms real env files use: plain, quoted, exported, commented, interpolated."""
    forms = (
        "VAR_{i}=plain-value-{i}",
        'QUOTED_{i}="a double-quoted value {i} with \\"escapes\\""',
        "SINGLE_{i}='literal ${{NOT_INTERPOLATED}} {i}'",
        "export EXPORTED_{i}=exported-{i} # a comment",
        "# a comment line {i}",
        "REF_{i}=${{VAR_{j}:-fallback}}/path",
    )
    return "\n".join(forms[i % len(forms)].format(i=i, j=max(i - 6, 0)) for i in range(lines)) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", help="path of an envfile.py to time instead of the installed one")
    args = parser.parse_args()
    if args.module:
        spec = importlib.util.spec_from_file_location("envfile_under_test", args.module)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        parse = module.parse_env_text
    else:
        from ecsflow.compose.envfile import parse_env_text as parse
    cases = {"8k lines": dotenv_text(8_000), "32k lines": dotenv_text(32_000)}
    big = dotenv_text(300_000)
    cases["10 MB"] = big[: big.rindex("\n", 0, 10_000_000) + 1]
    for name, text in cases.items():
        start = time.perf_counter()
        result = parse(text, "bench.env", {})
        elapsed = time.perf_counter() - start
        count = text.count("\n")
        print(f"{name:>10}: {len(text) / 1e6:6.2f} MB, {count:7d} lines, {len(result):7d} variables: "
              f"{elapsed:8.3f} s ({elapsed / count * 1e6:6.2f} us/line)")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
