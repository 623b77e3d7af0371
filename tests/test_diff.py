"""ecsflow.diff: equal in meaning is `unchanged`, every real change is `changed` with the right path.

The live side comes from real DescribeTaskDefinition/RegisterTaskDefinition answers kept in
tests/fixtures/ecs (see SOURCES.md there); the desired side is the request a user would have sent to get
each of them, written the way ecsflow's builder writes requests (no ECS-filled defaults, other orders).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from properties import examples

from ecsflow.diff import (
    Change,
    ChangeSet,
    FamilyDiff,
    build_changeset,
    diff_family,
    normalise_desired,
    normalise_live,
    strictly_equal,
    to_json_dict,
)

FIXTURES = Path(__file__).parent / "fixtures" / "ecs"


def live(name: str) -> dict:
    """A fixture as describe_task_definition(include=["TAGS"]) returns it.

    The console's JSON view (the `console_*` fixtures) shows the same TaskDefinition with its tags inlined;
    they are moved to the answer's top level, where the API puts them.
    """
    doc = json.loads((FIXTURES / name).read_text())
    if "taskDefinition" in doc:
        return doc
    doc = dict(doc)
    tags = doc.pop("tags", [])
    return {"taskDefinition": doc, "tags": tags}


# --- the requests a user would have sent to get each fixture -------------------------------------------


def req_sleep360() -> dict:
    # Verbatim the sleep360.json of the same aws-cli example whose output is the fixture.
    return {
        "containerDefinitions": [
            {
                "name": "sleep",
                "image": "busybox",
                "cpu": 10,
                "command": ["sleep", "360"],
                "memory": 10,
                "essential": True,
            }
        ],
        "family": "sleep360",
    }


def req_hello_world() -> dict:
    return {
        "family": "hello_world",
        "containerDefinitions": [
            {
                "name": "wordpress",
                "image": "wordpress",
                "links": ["mysql"],
                "cpu": 10,
                "memory": 500,
                "portMappings": [{"containerPort": 80, "hostPort": 80, "protocol": "tcp"}],
            },
            {
                "name": "mysql",
                "image": "mysql",
                "cpu": 10,
                "memory": 500,
                "environment": [{"name": "MYSQL_ROOT_PASSWORD", "value": "password"}],
            },
        ],
    }


def req_hiringcandidate() -> dict:
    # No health-check interval/timeout/retries, no hostPort/protocol, no container cpu: ECS fills them.
    return {
        "family": "hiringcandidate-command",
        "taskRoleArn": "arn:aws:iam::939645320583:role/ecsTaskExecutionRole",
        "executionRoleArn": "arn:aws:iam::939645320583:role/ecsTaskExecutionRole",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "1 vCPU",
        "memory": "2 GB",
        "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        "containerDefinitions": [
            {
                "name": "hiringcandidate-command",
                "image": "939645320583.dkr.ecr.sa-east-1.amazonaws.com/hiringcandidate.command",
                "portMappings": [
                    {"name": "hiringcandidate-command-80-tcp", "containerPort": 80, "appProtocol": "http"}
                ],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-stream-prefix": "ecs",
                        "awslogs-region": "sa-east-1",
                        "awslogs-group": "/ecs/",
                        "awslogs-create-group": "true",
                    },
                },
                "healthCheck": {
                    "command": ["CMD-SHELL", "curl -f http://localhost/health?param1=1&param2=2 || exit 1"]
                },
            }
        ],
        "tags": [{"key": "ecsflow:managed", "value": "true"}],
    }


def req_witp() -> dict:
    secrets = {
        "TLS_KEY": "prod/witp/ssl_key-hFFsNc",
        "DATABASE_URI": "prod/witp/db_uri-MzD5WF",
        "MAPBOX_API_KEY": "prod/witp/mapbox_api_key-mwOLL1",
        "DNS_SECRETS": "dev/witp/dns-WUWoov",
        "JWT_PRIVATE_KEY": "prod/witp/jwt_private_key-xYT66g",
        "TLS_CERT": "prod/witp/ssl_cert-goNKWL",
    }
    arn = "arn:aws:secretsmanager:eu-central-1:147882094138:secret:"
    return {
        "family": "witp-server",
        "executionRoleArn": "arn:aws:iam::147882094138:role/ecsTaskExecutionRole",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "1024",
        "memory": "2048",
        "ephemeralStorage": {"sizeInGiB": 21},
        "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        "containerDefinitions": [
            {
                "name": "witp",
                "image": "147882094138.dkr.ecr.eu-central-1.amazonaws.com/witp",
                "essential": True,
                # Another order than ECS returns them in.
                "secrets": [{"name": k, "valueFrom": arn + v} for k, v in secrets.items()],
                "portMappings": [
                    {"name": "witp-443-tcp", "containerPort": 443, "hostPort": 443, "appProtocol": "http"}
                ],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-create-group": "true",
                        "awslogs-group": "/ecs/witp-server",
                        "awslogs-region": "eu-central-1",
                        "awslogs-stream-prefix": "ecs",
                    },
                },
            }
        ],
    }


def req_payment() -> dict:
    return {
        "family": "default-payment-service",
        "executionRoleArn": "arn:aws:iam::307506883737:role/service-role/ecsTaskExecutionRole",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        "containerDefinitions": [
            {
                "name": "Main",
                "image": "307506883737.dkr.ecr.ap-southeast-1.amazonaws.com/courshare-payment-service:"
                "eeb91b0deadefa00d5896fbfef999e1250699515",
                "cpu": 256,
                "memory": 512,
                "memoryReservation": 512,
                "portMappings": [{"containerPort": 8083, "protocol": "tcp", "name": "main-8084-tcp"}],
                "environment": [
                    {
                        "name": "DATABASE_URL",
                        "value": "postgresql://payment_user:REDACTED@courshare-shared-db.c9ekmoesqqkt"
                        ".ap-southeast-1.rds.amazonaws.com:5432/payment_db?sslmode=require",
                    },
                    {"name": "WEBHOOK_SECRET", "value": "whsec_dummy"},
                    {"name": "OPTIONAL_FLAG", "value": ""},  # ECS drops it; render warns about it
                ],
                "secrets": [
                    {
                        "name": "STRIPE_API_KEY",
                        "valueFrom": "arn:aws:secretsmanager:ap-southeast-1:307506883737:secret:"
                        "courshare/payment-X0RCNp",
                    }
                ],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": "/aws/ecs/default/payment-service-935f",
                        "awslogs-region": "ap-southeast-1",
                        "awslogs-stream-prefix": "ecs",
                    },
                },
            }
        ],
    }


def req_banbury() -> dict:
    return {
        "family": "banbury-cloud",
        "executionRoleArn": "arn:aws:iam::145023116180:role/ecsTaskExecutionRole",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "1 vcpu",
        "memory": "3GB",
        "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        "enableFaultInjection": False,
        "containerDefinitions": [
            {
                "name": "banbury-cloud-backend",
                "image": "banbury-cloud-backend",
                "portMappings": [
                    {"name": "banbury-80-tcp", "containerPort": 80, "protocol": "tcp", "appProtocol": "http"}
                ],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": "/ecs/banbury-cloud",
                        "mode": "non-blocking",
                        "awslogs-create-group": "true",
                        "max-buffer-size": "25m",
                        "awslogs-region": "us-east-1",
                        "awslogs-stream-prefix": "ecs",
                    },
                    "secretOptions": [],
                },
            }
        ],
    }


PAIRS = {
    "aws_cli_sleep360_register_output.json": req_sleep360,
    "aws_cli_hello_world_describe.json": req_hello_world,
    "console_hiringcandidate_command.json": req_hiringcandidate,
    "console_witp_server.json": req_witp,
    "console_payment_service.json": req_payment,
    "console_banbury_cloud.json": req_banbury,
}


def container(request: dict, index: int = 0) -> dict:
    return request["containerDefinitions"][index]


def changed(fixture: str, request: dict) -> FamilyDiff:
    result = diff_family("svc", request["family"], request, live(fixture))
    assert result.status == "changed", result
    return result


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


# --- the fast equality test agrees with deepdiff ------------------------------------------------------------

# JSON values, as canonical forms hold them; NaN included (json parses it), and ints, floats and bools that
# Python's == calls equal (1, 1.0, True) but deepdiff does not.
_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(-3, 3), st.text(max_size=3),
                    st.sampled_from([0, 1, 1.0, 0.0, True, False, "", "1", "a", "A", float("nan")]))
_KEYS = st.sampled_from(["name", "image", "cpu", "environment", "a", "b", "1", ""])
_JSON = st.recursive(_LEAVES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4),
                     max_leaves=12)


def _variant(draw, value):
    """``value`` rebuilt with a few random edits (a leaf replaced, a key dropped or added, a list cut): often
    equal, often different by one detail, sometimes by a type alone."""
    if draw(st.integers(0, 5)) == 0:
        return draw(_JSON)
    if isinstance(value, dict):
        out = {k: _variant(draw, v) for k, v in value.items() if draw(st.integers(0, 7))}
        if draw(st.integers(0, 7)) == 0:
            out[draw(_KEYS)] = draw(_JSON)
        return out
    if isinstance(value, list):
        items = [_variant(draw, v) for v in value]
        return items[:-1] if items and draw(st.integers(0, 7)) == 0 else items
    if isinstance(value, int | float) and value in (0, 1) and draw(st.booleans()):
        return draw(st.sampled_from([int(value), float(value), bool(value)]))  # equal to ==, not to deepdiff
    return copy.deepcopy(value)


@st.composite
def _pairs(draw):
    value = draw(_JSON)
    return value, draw(st.sampled_from([value, copy.deepcopy(value), _variant(draw, value)]))


@settings(max_examples=examples(300, 3000))
@given(_pairs())
def test_fast_equality_agrees_with_deepdiff(pair):
    from deepdiff import DeepDiff

    a, b = pair
    found = DeepDiff(a, b, view="tree", verbose_level=2, threshold_to_diff_deeper=0)
    assert strictly_equal(a, b) == (not found)
    assert strictly_equal(b, a) == strictly_equal(a, b)


@settings(max_examples=examples(200, 2000))
@given(_pairs())
def test_fast_equality_agrees_with_deepdiff_on_task_definitions(pair):
    """The same, on the canonical forms of a real definition with random values grafted in."""
    from deepdiff import DeepDiff

    a, b = pair
    base = normalise_live(live("console_payment_service.json"))
    left, right = copy.deepcopy(base), copy.deepcopy(base)
    left["containers"]["Main"]["x"], right["containers"]["Main"]["x"] = a, b
    assert strictly_equal(left, right) == (not DeepDiff(left, right, threshold_to_diff_deeper=0))


def test_an_unchanged_family_is_compared_without_importing_deepdiff():
    import subprocess
    import sys

    code = f"""
import json, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_diff import live, req_payment
from ecsflow.diff import diff_family
assert diff_family("s", "f", req_payment(), live("console_payment_service.json")).status == "unchanged"
print("deepdiff" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# --- what the user wrote as data is never normalised away --------------------------------------------------

_WORDS = st.sampled_from(["", " ", "x", "echo", "-c", "0", "false", "null", "[]", "é"]) | st.text(max_size=4)
_LISTS = ("command", "entryPoint", "healthCheck.command")
_MAPS = ("dockerLabels", "logConfiguration.options")


def _place(c: dict, dotted: str) -> tuple[dict, str]:
    *parents, last = dotted.split(".")
    for part in parents:
        c = c.setdefault(part, {})
    return c, last


@st.composite
def _data_and_one_difference(draw):
    """The hiringcandidate request with random argument lists, labels and log options, and a copy that differs
    from it in one list item (changed, added or removed), one label or one option (value, added or removed)."""
    request = req_hiringcandidate()
    for dotted in _LISTS:
        parent, last = _place(container(request), dotted)
        parent[last] = draw(st.lists(_WORDS, max_size=4))
    for dotted in _MAPS:
        parent, last = _place(container(request), dotted)
        parent[last] = {**parent.get(last, {}), **draw(st.dictionaries(_WORDS.filter(bool), _WORDS, max_size=3))}
    other = copy.deepcopy(request)
    parent, last = _place(container(other), draw(st.sampled_from(_LISTS + _MAPS)))
    value = parent[last]
    if isinstance(value, list):
        where = draw(st.integers(0, len(value)))
        action = draw(st.sampled_from(["insert", "change", "remove"] if where < len(value) else ["insert"]))
        if action == "insert":
            value.insert(where, draw(_WORDS))
        elif action == "remove":
            del value[where]
        else:
            value[where] = draw(_WORDS.filter(lambda w: w != value[where]))
    else:
        key = draw(st.sampled_from(sorted(value)) | _WORDS.filter(bool)) if value else draw(_WORDS.filter(bool))
        if key in value and draw(st.booleans()):
            del value[key]
        else:
            value[key] = draw(_WORDS.filter(lambda w: w != value.get(key)))
    return request, other


@settings(max_examples=examples(300, 5000))
@given(_data_and_one_difference())
def test_requests_that_differ_in_a_list_item_label_or_option_never_compare_equal(pair):
    request, other = pair
    assert strictly_equal(normalise_desired(request), normalise_desired(request))
    assert not strictly_equal(normalise_desired(request), normalise_desired(other))
    # As sync sees it: the first registered (ECS echoes it back), the other desired.
    assert diff_family("s", "f", other, {"taskDefinition": request}).status == "changed"
    assert diff_family("s", "f", request, {"taskDefinition": other}).status == "changed"


def test_an_empty_argument_is_an_argument():
    request = req_sleep360()
    container(request)["command"] = ["echo", "", "x"]
    answer = {"taskDefinition": copy.deepcopy(request)}
    container(request)["command"] = ["echo", "x"]
    result = diff_family("s", "sleep360", request, answer)
    assert result.changes == (Change("containers[sleep].command", ["echo", "", "x"], ["echo", "x"]),)


def test_two_items_with_one_key_are_not_one():
    request = req_sleep360()
    container(request)["extraHosts"] = [{"hostname": "db", "ipAddress": "10.0.0.1"},
                                        {"hostname": "db", "ipAddress": "10.0.0.2"}]
    answer = {"taskDefinition": copy.deepcopy(request)}
    container(request)["extraHosts"][0]["ipAddress"] = "10.0.0.3"
    assert diff_family("s", "sleep360", request, answer).status == "changed"
