"""Logs that expire (`log_retention`): the values CloudWatch Logs accepts, every settings source, and what sync,
diff, run, deploy and verify do with the log groups, against the test endpoint (moto's ThreadedMotoServer serves
CloudWatch Logs) and the sandbox."""

from __future__ import annotations

import json

import pytest
from cli_runner import ecsflow
from consul_server import ConsulKV
from ecs_server import EcsEndpoint
from project_files import edit

from ecsflow.errors import SettingsError
from ecsflow.retention import RETENTION_DAYS, retention_days
from ecsflow.settings import resolve_settings
from ecsflow.validators import InvalidValue

COMPOSE = "docker-compose.yml"  # the example's, in etl_project
GROUPS = ["/ecs/etl/extract", "/ecs/etl/transform", "/ecs/etl/load", "/ecs/etl/api"]
WRITES = {"CreateLogGroup", "PutRetentionPolicy", "DeleteLogGroup", "DeleteRetentionPolicy"}


@pytest.fixture(scope="module")
def endpoint():
    """The endpoint in the example's region, so that the tests' own clients see the groups ecsflow made."""
    with EcsEndpoint(region="eu-west-1") as running:
        yield running


def retentions(ecs) -> dict[str, int | None]:
    groups = ecs.client("logs").describe_log_groups(logGroupNamePrefix="/ecs/")["logGroups"]
    return {g["logGroupName"]: g.get("retentionInDays") for g in groups}


def writes(ecs) -> dict[str, int]:
    return {action: n for action, n in ecs.calls.items() if action in WRITES or action == "RegisterTaskDefinition"}


# --- the values -------------------------------------------------------------------------------------------


def test_every_retention_cloudwatch_accepts_reads_as_days_or_a_duration():
    for days in RETENTION_DAYS:
        assert retention_days(days) == retention_days(str(days)) == retention_days(f"{days}d") == days
    assert retention_days(" 30D ") == 30


@pytest.mark.parametrize("value", [45, "45d", 0, -1, "30 days", "1w", "4h", "", True, 30.0, None, "3653d1"])
def test_another_value_is_refused_not_rounded(value):
    with pytest.raises(InvalidValue) as refused:
        retention_days(value)
    assert "a number of days CloudWatch Logs accepts" in refused.value.message()


def test_the_nearest_accepted_value_is_named():
    with pytest.raises(InvalidValue) as refused:
        retention_days("45d")
    assert "45 is not one (the nearest is 30)" in refused.value.message()


def test_each_source_sets_it_and_is_named_as_its_origin():
    assert resolve_settings().settings.log_retention is None
    resolved = resolve_settings(consul={"log_retention": "60"}, consul_prefix="etl")
    assert (resolved.settings.log_retention, resolved.origins["log_retention"]) == (60, "consul:etl/log_retention")
    resolved = resolve_settings(consul={"log_retention": "60"}, consul_prefix="etl",
                                compose={"log_retention": "90d"}, compose_file="docker-compose.yml")
    assert (resolved.settings.log_retention, resolved.origins["log_retention"]) == (90, "compose:docker-compose.yml")
    resolved = resolve_settings(compose={"log_retention": 90}, environ={"ECSFLOW_LOG_RETENTION": "14d"})
    assert (resolved.settings.log_retention, resolved.origins["log_retention"]) == (14, "env:ECSFLOW_LOG_RETENTION")
    resolved = resolve_settings(environ={"ECSFLOW_LOG_RETENTION": "14d"}, flags={"log_retention": "7"})
    assert (resolved.settings.log_retention, resolved.origins["log_retention"]) == (7, "flag:--log-retention")


def test_a_bad_value_in_each_source_names_that_source():
    with pytest.raises(SettingsError, match="Consul key 'etl/log_retention' must be a number of days"):
        resolve_settings(consul={"log_retention": "31"}, consul_prefix="etl")
    with pytest.raises(SettingsError, match="environment variable ECSFLOW_LOG_RETENTION must be"):
        resolve_settings(environ={"ECSFLOW_LOG_RETENTION": "forever"})
    with pytest.raises(SettingsError, match="flag --log-retention must be"):
        resolve_settings(flags={"log_retention": "2y"})
    with pytest.raises(SettingsError) as bad:
        resolve_settings(compose={"log_retention": "100d"}, compose_file="docker-compose.yml")
    assert bad.value.file == "docker-compose.yml" and "x-ecsflow.log_retention must be" in bad.value.message


def test_a_bad_value_of_a_service_names_file_line_service_and_key(etl_project):
    edit(etl_project / COMPOSE, "  extract:\n", "  extract:\n    x-ecsflow: {log_retention: 45d}\n")
    result = ecsflow("render", file=etl_project / COMPOSE, expect=1)
    line = next(n for n, text in enumerate((etl_project / "docker-compose.yml").read_text().splitlines(), 1)
                if text == "    x-ecsflow: {log_retention: 45d}")
    assert f"docker-compose.yml:{line}" in result.stderr and "service 'extract'" in result.stderr
    assert "x-ecsflow.log_retention must be a number of days" in result.stderr and "nearest is 30" in result.stderr
    assert "Traceback" not in result.output


def test_two_services_that_share_a_group_with_two_retentions_are_an_error(etl_project):
    edit(etl_project / COMPOSE, "  cluster: data-jobs\n", "  cluster: data-jobs\n  log_group: /ecs/{project}\n"
         "  log_retention: 30\n")
    edit(etl_project / COMPOSE, "  extract:\n", "  extract:\n    x-ecsflow: {log_retention: 7}\n")
    result = ecsflow("render", file=etl_project / COMPOSE, expect=1)
    assert "both log to group /ecs/etl" in result.stderr and "service 'transform'" in result.stderr
    assert "x-ecsflow.log_retention" in result.stderr


# --- sync, diff, run against the endpoint -----------------------------------------------------------------


def test_sync_creates_the_groups_with_their_retention_and_a_second_sync_writes_nothing(ecs, etl_project):
    first = ecsflow("sync", "--format", "json", file=etl_project / COMPOSE, endpoint=ecs,
                    env={"ECSFLOW_LOG_RETENTION": "30d"})
    # The four groups share a folder: one paginated DescribeLogGroups for them all.
    assert ecs.calls["DescribeLogGroups"] == 1
    assert writes(ecs) == {"CreateLogGroup": 4, "PutRetentionPolicy": 4, "RegisterTaskDefinition": 4}
    assert retentions(ecs) == dict.fromkeys(GROUPS, 30)
    assert [(g["name"], g["status"], g["retention"]) for g in json.loads(first.stdout)["log_groups"]] == [
        (group, "created", 30) for group in GROUPS]

    ecs.reset_counts()
    second = ecsflow("sync", "--format", "json", file=etl_project / COMPOSE, endpoint=ecs,
                     env={"ECSFLOW_LOG_RETENTION": "30"})
    assert json.loads(second.stdout)["log_groups"] == []
    assert dict(ecs.calls) == {"DescribeTaskDefinition": 4, "DescribeLogGroups": 1}


def test_a_retention_changed_in_the_setting_only_updates_the_groups_and_registers_nothing(ecs, etl_project):
    ecsflow("sync", file=etl_project / COMPOSE, endpoint=ecs, env={"ECSFLOW_LOG_RETENTION": "30d"})
    ecs.reset_counts()
    result = ecsflow("sync", file=etl_project / COMPOSE, endpoint=ecs, env={"ECSFLOW_LOG_RETENTION": "90d"})
    assert writes(ecs) == {"PutRetentionPolicy": 4}
    assert retentions(ecs) == dict.fromkeys(GROUPS, 90)
    assert "log group /ecs/etl/api: retention 30 days -> 90 days" in result.stdout
    assert "0 registered, 4 unchanged" in result.stdout


def test_a_service_of_its_own_retention_overrides_the_project_one(ecs, etl_project):
    edit(etl_project / COMPOSE, "  cluster: data-jobs\n", "  cluster: data-jobs\n  log_retention: 30d\n")
    edit(etl_project / COMPOSE, "  extract:\n", "  extract:\n    x-ecsflow: {log_retention: 7}\n")
    ecsflow("sync", file=etl_project / COMPOSE, endpoint=ecs)
    assert retentions(ecs) == {**dict.fromkeys(GROUPS, 30), "/ecs/etl/extract": 7}


def test_diff_and_dry_run_show_the_groups_and_write_nothing(ecs, etl_project):
    logs = ecs.client("logs")
    logs.create_log_group(logGroupName="/ecs/etl/api")  # made by someone else, with a retention of theirs
    logs.put_retention_policy(logGroupName="/ecs/etl/api", retentionInDays=90)
    logs.create_log_group(logGroupName="/ecs/etl/load")  # made by awslogs-create-group: never expires
    ecs.reset_counts()
    env = {"ECSFLOW_LOG_RETENTION": "30d"}
    diff = ecsflow("diff", "--no-services", file=etl_project / COMPOSE, endpoint=ecs, env=env)
    assert "+ log group /ecs/etl/extract: create with a retention of 30 days" in diff.stdout
    assert "~ log group /ecs/etl/load: retention none (never expires) -> 30 days" in diff.stdout
    assert "~ log group /ecs/etl/api: retention 90 days -> 30 days" in diff.stdout
    assert "Log groups: 2 to create, 2 to change retention." in diff.stdout
    document = json.loads(ecsflow("diff", "--format", "json", "--no-services", file=etl_project / COMPOSE, endpoint=ecs,
                                  env=env).stdout)
    assert {g["name"]: (g["status"], g["live_retention"], g["services"]) for g in document["log_groups"]} == {
        "/ecs/etl/extract": ("create", None, ["extract"]), "/ecs/etl/transform": ("create", None, ["transform"]),
        "/ecs/etl/load": ("retention", None, ["load"]), "/ecs/etl/api": ("retention", 90, ["api"])}
    ecsflow("diff", "--exit-code", "--no-services", "extract", file=etl_project / COMPOSE, endpoint=ecs, env=env,
            expect=2)
    markdown = ecsflow("diff", "--format", "markdown", "--no-services", file=etl_project / COMPOSE, endpoint=ecs,
                       env=env).stdout
    assert "- ~ `/ecs/etl/api`: retention 90 days -> 30 days" in markdown
    dry = ecsflow("sync", "--dry-run", file=etl_project / COMPOSE, endpoint=ecs, env=env)
    assert "note: log group /ecs/etl/api: would change retention 90 days -> 30 days" in dry.stderr
    assert "note: log group /ecs/etl/extract: would be created with a retention of 30 days" in dry.stderr
    assert writes(ecs) == {}
    assert retentions(ecs) == {"/ecs/etl/api": 90, "/ecs/etl/load": None}


def test_without_the_setting_no_group_is_touched_and_one_note_says_they_never_expire(ecs, etl_project):
    logs = ecs.client("logs")
    logs.create_log_group(logGroupName="/ecs/etl/api")
    logs.put_retention_policy(logGroupName="/ecs/etl/api", retentionInDays=90)
    ecs.reset_counts()
    for command in (("sync",), ("diff", "--no-services")):
        result = ecsflow(*command, file=etl_project / COMPOSE, endpoint=ecs)
        notes = [line for line in result.stderr.splitlines() if "never expire" in line]
        assert len(notes) == 1, result.stderr
        assert "the 4 log groups /ecs/etl/extract, /ecs/etl/transform, /ecs/etl/load, /ecs/etl/api" in notes[0]
        assert "ECSFLOW_LOG_RETENTION" in notes[0] and "--log-retention" in notes[0]
    assert "DescribeLogGroups" not in ecs.calls and writes(ecs) == {"RegisterTaskDefinition": 4}
    assert retentions(ecs) == {"/ecs/etl/api": 90}  # a group of someone else's: left as it is
    with_it = ecsflow("sync", file=etl_project / COMPOSE, endpoint=ecs, env={"ECSFLOW_LOG_RETENTION": "30d"})
    assert "never expire" not in with_it.stderr


def test_a_group_that_cannot_be_created_stops_sync_before_it_registers(ecs, etl_project):
    ecs.fail("CreateLogGroup", "AccessDeniedException",
             "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: logs:CreateLogGroup")
    result = ecsflow("sync", file=etl_project / COMPOSE, endpoint=ecs, env={"ECSFLOW_LOG_RETENTION": "30d"}, expect=1)
    assert "logs:CreateLogGroup" in result.stderr and "Traceback" not in result.output
    assert "RegisterTaskDefinition" not in ecs.calls


def test_a_group_that_cannot_be_read_stops_diff_with_the_permission_it_needs(ecs, etl_project):
    ecs.fail("DescribeLogGroups", "AccessDeniedException",
             "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: logs:DescribeLogGroups")
    result = ecsflow("diff", "--no-services", file=etl_project / COMPOSE, endpoint=ecs,
                     env={"ECSFLOW_LOG_RETENTION": "30d"}, expect=1)
    assert "logs:DescribeLogGroups" in result.stderr and "Traceback" not in result.output


def test_the_groups_come_from_consul_too(ecs, etl_project):
    with ConsulKV({"etl/log_retention": "60"}) as consul:
        ecsflow("sync", "--consul-prefix", "etl", file=etl_project / COMPOSE, endpoint=ecs,
                env={"CONSUL_HTTP_ADDR": consul.addr})
    assert retentions(ecs) == dict.fromkeys(GROUPS, 60)


def test_many_groups_in_the_folder_are_read_in_pages_and_a_far_one_by_its_name(ecs, etl_project):
    logs = ecs.client("logs")
    for n in range(130):  # groups of others in the same folder, sorted before and between ecsflow's
        logs.create_log_group(logGroupName=f"/ecs/etl/a{n:03}")
    logs.create_log_group(logGroupName="/ecs/etl/transform")
    logs.put_retention_policy(logGroupName="/ecs/etl/transform", retentionInDays=30)
    ecs.reset_counts()
    document = json.loads(ecsflow("diff", "--format", "json", "--no-services", file=etl_project / COMPOSE, endpoint=ecs,
                                  env={"ECSFLOW_LOG_RETENTION": "30d"}).stdout)
    assert {g["name"]: g["status"] for g in document["log_groups"]} == {
        "/ecs/etl/extract": "create", "/ecs/etl/transform": "unchanged", "/ecs/etl/load": "create",
        "/ecs/etl/api": "create"}
    assert ecs.calls["DescribeLogGroups"] == 3  # 134 groups in the folder: 3 pages of 50


def test_a_folder_too_large_to_page_through_is_read_by_exact_names(ecs, etl_project):
    logs = ecs.client("logs")
    for n in range(260):  # more than 5 pages of others' groups before ecsflow's
        logs.create_log_group(logGroupName=f"/ecs/etl/a{n:03}")
    logs.create_log_group(logGroupName="/ecs/etl/load")
    logs.put_retention_policy(logGroupName="/ecs/etl/load", retentionInDays=30)
    ecs.reset_counts()
    result = ecsflow("sync", "--format", "json", file=etl_project / COMPOSE, endpoint=ecs,
                     env={"ECSFLOW_LOG_RETENTION": "30d"})
    assert {g["name"]: g["status"] for g in json.loads(result.stdout)["log_groups"]} == {
        "/ecs/etl/extract": "created", "/ecs/etl/transform": "created", "/ecs/etl/api": "created"}
    assert ecs.calls["DescribeLogGroups"] == 5 + 4 and "ResourceAlreadyExistsException" not in result.output


# --- the sandbox --------------------------------------------------------------------------------------------


def test_sandbox_sync_twice_is_a_no_op_and_a_new_retention_registers_no_revision(etl_project):
    env = {"ECSFLOW_LOG_RETENTION": "30d"}
    first = ecsflow("sync", "--sandbox", "--format", "json", file=etl_project / COMPOSE, env=env)
    assert len(json.loads(first.stdout)["log_groups"]) == 4
    state = etl_project / ".ecsflow" / "sandbox" / "logs" / "eu-west-1.json"
    kept = json.loads(state.read_text())
    assert {g["logGroupName"]: g["retentionInDays"] for g in kept["groups"]} == dict.fromkeys(GROUPS, 30)
    written = state.stat().st_mtime_ns

    second = ecsflow("sync", "--sandbox", "--format", "json", file=etl_project / COMPOSE, env=env)
    document = json.loads(second.stdout)
    assert document["log_groups"] == [] and {f["status"] for f in document["families"]} == {"unchanged"}
    assert state.stat().st_mtime_ns == written

    third = ecsflow("sync", "--sandbox", "--format", "json", file=etl_project / COMPOSE,
                    env={"ECSFLOW_LOG_RETENTION": "14d"})
    document = json.loads(third.stdout)
    assert [(g["status"], g["live_retention"], g["retention"]) for g in document["log_groups"]] == [
        ("retention", 30, 14)] * 4
    assert [(f["status"], f["revision"]) for f in document["families"]] == [("unchanged", 1)] * 4
    ecsflow("diff", "--sandbox", "--exit-code", "--no-services", file=etl_project / COMPOSE,
            env={"ECSFLOW_LOG_RETENTION": "14d"})


def test_sandbox_run_creates_the_group_and_run_and_deploy_say_the_note_once(etl_project):
    result = ecsflow("run", "--sandbox", "load", file=etl_project / COMPOSE, env={"ECSFLOW_LOG_RETENTION": "7"})
    assert "log group /ecs/etl/load: created with a retention of 7 days" in result.stderr
    assert "never expire" not in result.stderr
    without = ecsflow("run", "--sandbox", "extract", file=etl_project / COMPOSE)
    assert [line for line in without.stderr.splitlines() if "never expire" in line] == [
        "note: no log_retention is set, so the log group /ecs/etl/extract will never expire (CloudWatch Logs "
        "keeps what awslogs writes forever); set x-ecsflow.log_retention (top level or per service), "
        "ECSFLOW_LOG_RETENTION or --log-retention, e.g. 30d"]
    deploy = ecsflow("deploy", "--sandbox", "--dry-run", file=etl_project / COMPOSE)
    assert sum("never expire" in line for line in deploy.stderr.splitlines()) == 1
    deploy = ecsflow("deploy", "--sandbox", "--no-wait", file=etl_project / COMPOSE,
                     env={"ECSFLOW_LOG_RETENTION": "14d"})
    assert "log group /ecs/etl/api: created with a retention of 14 days" in deploy.stderr
    assert "never expire" not in deploy.stderr
    kept = json.loads((etl_project / ".ecsflow" / "sandbox" / "logs" / "eu-west-1.json").read_text())["groups"]
    assert {g["logGroupName"]: g["retentionInDays"] for g in kept} == {"/ecs/etl/api": 14, "/ecs/etl/load": 7}


def test_a_broken_log_groups_file_of_the_sandbox_is_an_error_naming_it(etl_project):
    state = etl_project / ".ecsflow" / "sandbox" / "logs"
    state.mkdir(parents=True)
    (state / "eu-west-1.json").write_text(json.dumps({"format": 1, "region": "eu-west-1", "groups": [
        {"logGroupName": "/ecs/etl/load", "retentionInDays": 45}]}))
    result = ecsflow("diff", "--sandbox", file=etl_project / COMPOSE, expect=1)
    assert "eu-west-1.json" in result.stderr and "45" in result.stderr and "Traceback" not in result.output


# --- verify -------------------------------------------------------------------------------------------------


def test_verify_fails_each_group_that_would_never_expire(ecs, etl_project):
    logs = ecs.client("logs")
    logs.create_log_group(logGroupName="/ecs/etl/api")  # never expires
    logs.create_log_group(logGroupName="/ecs/etl/load")
    logs.put_retention_policy(logGroupName="/ecs/etl/load", retentionInDays=14)
    result = ecsflow("verify", "--format", "json", file=etl_project / COMPOSE, endpoint=ecs, expect=1)
    lines = {c["subject"]: (c["status"], c["detail"]) for c in json.loads(result.stdout)["checks"]
             if c["check"] == "log retention"}
    assert lines["/ecs/etl/load"] == ("ok", "14 days")
    assert lines["/ecs/etl/api"][0] == "failed" and "never expire" in lines["/ecs/etl/api"][1]
    assert lines["/ecs/etl/extract"][0] == "failed" and "awslogs would create it with no retention" in \
        lines["/ecs/etl/extract"][1]
    assert "log_retention" in lines["/ecs/etl/extract"][1]
    fixed = json.loads(ecsflow("verify", "--format", "json", file=etl_project / COMPOSE, endpoint=ecs,
                               env={"ECSFLOW_LOG_RETENTION": "14d"}, expect=1).stdout)  # other checks fail
    lines = {c["subject"]: (c["status"], c["detail"]) for c in fixed["checks"] if c["check"] == "log retention"}
    assert lines == {"/ecs/etl/extract": ("ok", "not there yet: sync creates it with a retention of 14 days"),
                     "/ecs/etl/transform": ("ok", "not there yet: sync creates it with a retention of 14 days"),
                     "/ecs/etl/load": ("ok", "14 days"), "/ecs/etl/api": ("ok", "none now: sync sets 14 days")}
