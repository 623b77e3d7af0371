"""Project files for the tests: a copy of the ETL example or of the official Airflow project to edit, and the
edit."""

from __future__ import annotations

import shutil
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "etl"
AIRFLOW_OFFICIAL = Path(__file__).resolve().parent / "fixtures" / "airflow-official"


def copy_example(target: Path, *, dags: bool = False) -> Path:
    """A copy of examples/etl at ``target``, without sandbox state or caches (nor its DAGs unless ``dags``)."""
    ignored = (".ecsflow", "__pycache__") if dags else (".ecsflow", "__pycache__", "dags")
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns(*ignored))
    return target


def copy_airflow_official(target: Path) -> Path:
    """A copy of Airflow's own docker-compose.yaml with its compose.ecs.yaml override (tests/fixtures) at
    ``target``."""
    shutil.copytree(AIRFLOW_OFFICIAL, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    """Replace the first ``old`` in the file with ``new``; ``old`` must be there (a test that edits nothing
    proves nothing)."""
    text = path.read_text()
    assert old in text, f"{old!r} is not in {path}"
    path.write_text(text.replace(old, new, 1))
