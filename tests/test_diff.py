"""ecsflow.diff: equal in meaning is `unchanged`, every real change is `changed` with the right path.

The live side comes from real DescribeTaskDefinition/RegisterTaskDefinition answers kept in
tests/fixtures/ecs (see SOURCES.md there); the desired side is the request a user would have sent to get
each of them, written the way ecsflow's builder writes requests (no ECS-filled defaults, other orders):
tests/diff_fixtures.py. The fast equality and what it never normalises away, as properties: test_diff_equality.py.
"""

from __future__ import annotations

import copy
import json

import pytest
from diff_fixtures import (
    FIXTURES,
    PAIRS,
    changed,
    container,
    live,
    req_banbury,
    req_hello_world,
    req_hiringcandidate,
    req_payment,
    req_sleep360,
    req_witp,
)

from ecsflow.diff import (
    Change,
    ChangeSet,
    FamilyDiff,
    build_changeset,
    diff_family,
    normalise_desired,
    normalise_live,
    to_json_dict,
)

# --- equal in meaning ----------------------------------------------------------------------------------


def test_every_fixture_has_a_source():
    sources = (FIXTURES / "SOURCES.md").read_text()
    for name in FIXTURES.glob("*.json"):
        assert name.name in sources
    assert set(PAIRS) == {p.name for p in FIXTURES.glob("*.json")}


@pytest.mark.parametrize("fixture", sorted(PAIRS))
def test_request_equal_in_meaning_is_unchanged(fixture):
    answer = live(fixture)
    result = diff_family("svc", answer["taskDefinition"]["family"], PAIRS[fixture](), answer)
    assert result.changes == ()
    assert result.status == "unchanged"
    assert result.live_revision == answer["taskDefinition"]["revision"]


@pytest.mark.parametrize("fixture", sorted(PAIRS))
def test_live_answer_compared_with_itself_as_a_request_is_unchanged(fixture):
    # Re-registering exactly what ECS returned (minus what register rejects) must not make a revision.
    td = copy.deepcopy(live(fixture)["taskDefinition"])
    for key in (
        "taskDefinitionArn",
        "revision",
        "status",
        "requiresAttributes",
        "compatibilities",
        "registeredAt",
        "registeredBy",
    ):
        td.pop(key, None)
    assert diff_family("svc", td["family"], td, live(fixture)).status == "unchanged"


def test_environment_and_secrets_order_does_not_matter():
    request = req_payment()
    container(request)["environment"].reverse()
    fixture = "console_payment_service.json"
    assert diff_family("s", "default-payment-service", request, live(fixture)).status == "unchanged"
    request = req_witp()
    container(request)["secrets"].reverse()
    assert diff_family("s", "witp-server", request, live("console_witp_server.json")).status == "unchanged"


def test_empty_environment_value_equals_absent_variable():
    request = req_hiringcandidate()
    container(request)["environment"] = [{"name": "EMPTY", "value": ""}, {"name": "NONE"}]
    fixture = "console_hiringcandidate_command.json"
    assert diff_family("s", "f", request, live(fixture)).status == "unchanged"


def test_tags_alone_do_not_make_a_change():
    request = req_witp()
    request["tags"] = [{"key": "team", "value": "data"}]
    answer = live("console_witp_server.json")
    answer["tags"] = [{"key": "team", "value": "platform"}]
    assert diff_family("s", "witp-server", request, answer).status == "unchanged"


def test_explicit_defaults_equal_omitted_ones():
    request = req_hiringcandidate()
    c = container(request)
    c.update(essential=True, cpu=0, mountPoints=[], volumesFrom=[], systemControls=[], environment=[])
    c["healthCheck"].update(interval=30, timeout=5, retries=3, startPeriod=0)
    c["portMappings"][0].update(hostPort=80, protocol="tcp")
    request["enableFaultInjection"] = False
    request["cpu"], request["memory"] = 1024, "2048"
    fixture = "console_hiringcandidate_command.json"
    assert diff_family("s", "f", request, live(fixture)).status == "unchanged"


@pytest.mark.parametrize(
    ("desired", "live_value", "expected"),
    [("1 vCPU", "1024", 1024), ("0.25 vcpu", "256", 256), (".5 vCPU", "512", 512), (2048, "2048", 2048)],
)
def test_task_cpu_compared_as_units(desired, live_value, expected):
    assert (
        normalise_desired({"cpu": desired})["cpu"]
        == normalise_live({"taskDefinition": {"cpu": live_value}})["cpu"]
        == expected
    )


@pytest.mark.parametrize(
    ("desired", "expected"), [("2 GB", 2048), ("2GB", 2048), ("0.5GB", 512), ("3072", 3072)]
)
def test_task_memory_compared_as_mib(desired, expected):
    assert normalise_desired({"memory": desired})["memory"] == expected


def test_canonical_form_drops_what_ecs_adds():
    canonical = normalise_live(live("console_banbury_cloud.json"))
    for key in (
        "taskDefinitionArn",
        "revision",
        "status",
        "requiresAttributes",
        "compatibilities",
        "registeredAt",
        "registeredBy",
        "enableFaultInjection",
        "tags",
        "volumes",
        "placementConstraints",
    ):
        assert key not in canonical
    c = canonical["containers"]["banbury-cloud-backend"]
    assert c["portMappings"] == {"80/tcp": {"name": "banbury-80-tcp", "hostPort": 80, "appProtocol": "http"}}
    assert "secretOptions" not in c["logConfiguration"]
    for key in (
        "environment",
        "secrets",
        "mountPoints",
        "volumesFrom",
        "systemControls",
        "ulimits",
        "environmentFiles",
    ):
        assert key not in c


# --- real changes --------------------------------------------------------------------------------------


def test_image_tag_change():
    request = req_payment()
    old = container(request)["image"]
    container(request)["image"] = old.rsplit(":", 1)[0] + ":v2"
    result = changed("console_payment_service.json", request)
    assert result.changes == (Change("containers[Main].image", old, old.rsplit(":", 1)[0] + ":v2"),)


def test_one_environment_value():
    request = req_hello_world()
    container(request, 1)["environment"][0]["value"] = "hunter2"
    result = changed("aws_cli_hello_world_describe.json", request)
    assert result.changes == (
        Change("containers[mysql].environment.MYSQL_ROOT_PASSWORD", "password", "hunter2"),
    )


def test_new_variable():
    request = req_payment()
    container(request)["environment"].append({"name": "LOG_LEVEL", "value": "DEBUG"})
    result = changed("console_payment_service.json", request)
    assert result.changes == (Change("containers[Main].environment.LOG_LEVEL", None, "DEBUG"),)


def test_first_variable_of_a_container_without_any():
    request = req_hiringcandidate()
    container(request)["environment"] = [{"name": "LOG_LEVEL", "value": "INFO"}]
    result = changed("console_hiringcandidate_command.json", request)
    assert result.changes == (
        Change("containers[hiringcandidate-command].environment.LOG_LEVEL", None, "INFO"),
    )


def test_removed_variable():
    request = req_payment()
    container(request)["environment"] = [
        e for e in container(request)["environment"] if e["name"] != "WEBHOOK_SECRET"
    ]
    result = changed("console_payment_service.json", request)
    assert result.changes == (Change("containers[Main].environment.WEBHOOK_SECRET", "whsec_dummy", None),)


def test_all_variables_removed_shows_each():
    request = req_payment()
    container(request)["environment"] = []
    result = changed("console_payment_service.json", request)
    assert [(c.path, c.new) for c in result.changes] == [
        ("containers[Main].environment.DATABASE_URL", None),
        ("containers[Main].environment.WEBHOOK_SECRET", None),
    ]


def test_first_volume_and_mount_point():
    request = req_banbury()
    request["volumes"] = [{"name": "data"}]
    container(request)["mountPoints"] = [
        {"sourceVolume": "data", "containerPath": "/data", "readOnly": False}
    ]
    result = changed("console_banbury_cloud.json", request)
    assert result.changes == (
        Change("containers[banbury-cloud-backend].mountPoints[/data]", None, {"sourceVolume": "data"}),
        Change("volumes[data]", None, {}),
    )


def test_removed_secret():
    request = req_witp()
    secrets = container(request)["secrets"]
    removed = next(s for s in secrets if s["name"] == "MAPBOX_API_KEY")
    secrets.remove(removed)
    result = changed("console_witp_server.json", request)
    assert result.changes == (Change("containers[witp].secrets.MAPBOX_API_KEY", removed["valueFrom"], None),)


def test_secret_arn_change():
    request = req_payment()
    secret = container(request)["secrets"][0]
    old = secret["valueFrom"]
    secret["valueFrom"] = old[:-6] + "AbCdEf"
    result = changed("console_payment_service.json", request)
    assert result.changes == (Change("containers[Main].secrets.STRIPE_API_KEY", old, old[:-6] + "AbCdEf"),)


def test_task_cpu_and_memory_change():
    request = req_payment()
    request["cpu"], request["memory"] = "512", "1 GB"
    result = changed("console_payment_service.json", request)
    assert result.changes == (Change("cpu", 256, 512), Change("memory", 512, 1024))


def test_container_cpu_change():
    request = req_sleep360()
    container(request)["cpu"] = 20
    assert changed("aws_cli_sleep360_register_output.json", request).changes == (
        Change("containers[sleep].cpu", 10, 20),
    )


def test_health_check_field_change():
    request = req_hiringcandidate()
    container(request)["healthCheck"]["interval"] = 60
    result = changed("console_hiringcandidate_command.json", request)
    assert result.changes == (Change("containers[hiringcandidate-command].healthCheck.interval", 30, 60),)


def test_health_check_start_period_added():
    request = req_hiringcandidate()
    container(request)["healthCheck"]["startPeriod"] = 120
    result = changed("console_hiringcandidate_command.json", request)
    assert result.changes == (Change("containers[hiringcandidate-command].healthCheck.startPeriod", 0, 120),)


def test_removed_port():
    request = req_hiringcandidate()
    container(request)["portMappings"] = []
    result = changed("console_hiringcandidate_command.json", request)
    assert result.changes == (
        Change(
            "containers[hiringcandidate-command].portMappings[80/tcp]",
            {"name": "hiringcandidate-command-80-tcp", "hostPort": 80, "appProtocol": "http"},
            None,
        ),
    )


def test_protocol_change_is_a_different_port():
    request = req_witp()
    container(request)["portMappings"][0]["protocol"] = "udp"
    paths = [c.path for c in changed("console_witp_server.json", request).changes]
    assert paths == ["containers[witp].portMappings[443/tcp]", "containers[witp].portMappings[443/udp]"]


def test_command_order_is_meaning():
    request = req_sleep360()
    container(request)["command"] = ["360", "sleep"]
    result = changed("aws_cli_sleep360_register_output.json", request)
    assert result.changes == (Change("containers[sleep].command", ["sleep", "360"], ["360", "sleep"]),)


def test_essential_false_is_a_change():
    request = req_sleep360()
    container(request)["essential"] = False
    result = changed("aws_cli_sleep360_register_output.json", request)
    assert result.changes == (Change("containers[sleep].essential", True, False),)


def test_added_container():
    request = req_sleep360()
    request["containerDefinitions"].append({"name": "sidecar", "image": "busybox"})
    result = changed("aws_cli_sleep360_register_output.json", request)
    assert [c.path for c in result.changes] == ["containers[sidecar]"]
    assert result.changes[0].old is None and result.changes[0].new["image"] == "busybox"


def test_several_changes_are_sorted_by_path():
    request = req_payment()
    request["memory"] = "1024"
    container(request)["image"] = "repo/payment:v3"
    container(request)["environment"].append({"name": "A", "value": "1"})
    paths = [c.path for c in changed("console_payment_service.json", request).changes]
    assert paths == ["containers[Main].environment.A", "containers[Main].image", "memory"]


def test_missing_family_is_new():
    result = diff_family("etl", "proj-etl", req_payment(), None)
    assert result == FamilyDiff("etl", "proj-etl", "new", None, ())


# --- moto's shape --------------------------------------------------------------------------------------


def test_moto_echo_is_unchanged_and_changes_show(monkeypatch):
    moto = pytest.importorskip("moto")
    boto3 = pytest.importorskip("boto3")
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(var, "testing")
    request = req_hiringcandidate()
    container(request)["environment"] = [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]
    container(request)["secrets"] = [
        {"name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/db"}
    ]
    with moto.mock_aws():
        ecs = boto3.client("ecs", region_name="us-east-1")
        ecs.register_task_definition(**request)
        answer = ecs.describe_task_definition(taskDefinition=request["family"], include=["TAGS"])
    # moto echoes "1 vCPU", fills no hostPort/protocol nor health-check defaults: still the same meaning.
    assert answer["taskDefinition"]["cpu"] == "1 vCPU"
    assert "hostPort" not in answer["taskDefinition"]["containerDefinitions"][0]["portMappings"][0]
    assert diff_family("s", request["family"], request, answer).status == "unchanged"

    container(request)["environment"][1]["value"] = "3"
    result = diff_family("s", request["family"], request, answer)
    assert result.changes == (Change("containers[hiringcandidate-command].environment.A", "1", "3"),)
    assert result.live_revision == 1


# --- JSON (masking: tests/test_masking.py) --------------------------------------------------------------


def test_to_json_dict_shape_and_order():
    request = req_hello_world()
    container(request, 1)["environment"][0]["value"] = "hunter2"
    container(request, 0)["image"] = "wordpress:6"
    changeset = build_changeset(
        [
            ("web", "hello_world", request, live("aws_cli_hello_world_describe.json")),
            ("new", "proj-new", req_sleep360(), None),
            ("pay", "default-payment-service", req_payment(), live("console_payment_service.json")),
        ]
    )
    assert changeset.counts == {"new": 1, "changed": 1, "unchanged": 1}
    assert changeset.has_changes
    assert [f.service for f in changeset.with_status("new")] == ["new"]
    doc = to_json_dict(changeset)
    assert json.loads(json.dumps(doc)) == doc
    assert list(doc) == ["families"]
    assert [list(f) for f in doc["families"]] == [
        ["service", "family", "status", "live_revision", "changes"]
    ] * 3
    assert doc["families"][0] == {
        "service": "web",
        "family": "hello_world",
        "status": "changed",
        "live_revision": 8,
        "changes": [
            {"path": "containers[mysql].environment.MYSQL_ROOT_PASSWORD", "old": "password", "new": "hunter2"},
            {"path": "containers[wordpress].image", "old": "wordpress", "new": "wordpress:6"},
        ],
    }
    assert doc["families"][1] == {
        "service": "new",
        "family": "proj-new",
        "status": "new",
        "live_revision": None,
        "changes": [],
    }


def test_empty_changeset_has_no_changes():
    answer = live("console_witp_server.json")
    changeset = ChangeSet((diff_family("s", "witp-server", req_witp(), answer),))
    assert not changeset.has_changes
    assert changeset.counts == {"new": 0, "changed": 0, "unchanged": 1}
