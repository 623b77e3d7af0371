"""Tables that fit and help that is whole (issue 25): `sync --dry-run` shows the live revision as live and no ARN
in its text table; `verify` in a 100-column terminal never splits an ARN or an image; `prune` with nothing to
do says what it checked; the command list of `ecsflow --help` is not cut mid-sentence; `gen-dag --help` names
its three files."""

from __future__ import annotations

import io
import json
import re

from cli_runner import ecsflow

ENV = {"NO_COLOR": "1"}


def width(columns: int) -> dict[str, str]:
    """The environment of a terminal ``columns`` wide."""
    return {**ENV, "COLUMNS": str(columns)}


def test_a_dry_run_shows_the_live_revision_as_live_and_no_arn(etl_project):
    compose = etl_project / "docker-compose.yml"
    ecsflow("sync", "--sandbox", "extract", "transform", file=compose, env=ENV)
    text = (etl_project / "docker-compose.yml").read_text().replace("etl/extract:1.4.2", "etl/extract:1.4.3")
    (etl_project / "docker-compose.yml").write_text(text)
    result = ecsflow("sync", "--sandbox", "--dry-run", file=compose, env=ENV)
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[1:-1]}
    assert result.stdout.splitlines()[0].split() == ["service", "family", "status", "revision"]
    assert rows == {"extract": ["etl-extract", "would-register", "live", "1"],
                    "transform": ["etl-transform", "unchanged", "1"],
                    "load": ["etl-load", "would-register", "new"], "api": ["etl-api", "would-register", "new"]}
    assert "arn:aws" not in result.stdout
    report = json.loads(ecsflow("sync", "--sandbox", "--dry-run", "--format", "json", file=compose, env=ENV).stdout)
    assert report["families"][0]["arn"].endswith(":task-definition/etl-extract:1")  # the JSON keeps the ARN


def test_a_sync_table_has_no_arn_and_no_empty_detail_column(etl_project):
    result = ecsflow("sync", "--sandbox", file=etl_project / "docker-compose.yml", env=ENV)
    assert result.stdout.splitlines()[0].split() == ["service", "family", "status", "revision"]
    assert "arn:aws" not in result.stdout and "extract    etl-extract    registered  1" in result.stdout


def verify_output(project, width: int) -> str:
    from ecsflow import operations, output
    from ecsflow.operations import AwsFlags, ProjectOptions

    result = operations.verify(ProjectOptions(files=(project / "docker-compose.yml",)), AwsFlags(sandbox=True))
    buffer = io.StringIO()
    output.write_verify(result.results, "text", env=output.Environment(stdout=buffer, color=False, width=width))
    return buffer.getvalue()


def test_verify_at_100_columns_keeps_every_arn_and_image_whole(etl_project):
    text = verify_output(etl_project, 100)
    assert all(len(line.rstrip()) <= 100 for line in text.splitlines())
    lines = [line.strip() for line in text.splitlines()]
    for subject in ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/etl/metrics-api:2.3.0",
                    "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
                    "WAREHOUSE_PASSWORD (arn:aws:ssm:eu-west-1:123456789012:parameter/etl/warehouse/password)"):
        assert subject in lines, text  # on a line of its own, whole
    assert "etl-api        image           missing" in text
    # the api's service check, and the four groups' retentions
    assert text.splitlines()[-1] == "verify: 21 of 26 checks fail (5 ok, 17 missing, 4 failed)."


def test_verify_where_the_table_fits_stays_a_table(etl_project):
    text = verify_output(etl_project, 240)
    assert text.splitlines()[0].split() == ["family", "check", "subject", "status", "detail"]
    assert re.search(r"^etl-api +image +123456789012\.dkr\.ecr\.eu-west-1\.amazonaws\.com/etl/metrics-api:2\.3\.0 "
                     r"+missing +the ECR repository", text, re.M)


def test_nothing_to_prune_says_what_was_checked(etl_project):
    compose = etl_project / "docker-compose.yml"
    ecsflow("sync", "--sandbox", file=compose, env=ENV)
    result = ecsflow("prune", "--sandbox", file=compose, env=ENV)
    assert result.stdout.splitlines()[-1] == (
        "Nothing to prune: 4 family(ies) checked; each keeps its newest 5 ACTIVE revision(s) and those in use in "
        "cluster data-jobs or pinned by a generated DAG.")


def test_the_command_list_is_whole_sentences():
    for columns in (80, 100):
        result = ecsflow("--help", env=width(columns))
        listing = result.stdout.split("Commands:", 1)[1].strip().splitlines()
        assert len(listing) >= 8 and all(line.rstrip().endswith(".") for line in listing), listing
        assert not any("..." in line for line in listing)


def test_gen_dag_help_names_its_three_files():
    result = ecsflow("gen-dag", "--help", env=width(200))
    for name in ("<dag_id>.py", "<dag_id>_tasks.py", "<dag_id>.pools.json"):
        assert name in result.stdout


def test_the_role_options_say_a_name_is_taken():
    # `--execution-role ecsTaskExecutionRole` is how a newcomer writes it; the help must not say "ARN" only
    text = " ".join(ecsflow("render", "--help", env=width(200)).stdout.split())  # the help column wraps
    assert "Task execution role: its ARN, or its name (with the account)." in text
    assert "Task role: its ARN, or its name (with the account)." in text
