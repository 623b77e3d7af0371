"""ecsflow.taskdef: what Fargate and ECS can hold: the task sizes, the compose keys Fargate cannot honour, the
tags and images ECS refuses."""

from __future__ import annotations

import json

import pytest
from taskdef_support import EXEC_ROLE, GIB, MIB, build, build_error, container, svc

from ecsflow.compose.extension import parse_service_extension
from ecsflow.errors import ComposeError, EcsflowError
from ecsflow.fargate import FARGATE_SIZES, smallest_size
from ecsflow.settings import Settings, resolve_settings

# -- Fargate sizes ---------------------------------------------------------------------------------


def test_fargate_table_matches_the_documented_ranges():
    assert {cpu: (ms[0], ms[-1], len(ms)) for cpu, ms in FARGATE_SIZES.items()} == {
        256: (512, 2048, 3),
        512: (1024, 4096, 4),
        1024: (2048, 8192, 7),
        2048: (4096, 16384, 13),
        4096: (8192, 30720, 23),
        8192: (16384, 61440, 12),
        16384: (32768, 122880, 12),
    }


@pytest.mark.parametrize(
    ("cpus", "mem_limit", "size", "rounded"),
    [
        (0.3, 600 * MIB, ("512", "1024"), True),
        (2.0, None, ("2048", "4096"), False),
        (None, 5 * GIB, ("1024", "5120"), False),
        (0.5, None, ("512", "1024"), False),
        (None, 9 * GIB, ("2048", "9216"), False),
        (4.0, 31 * GIB, ("8192", "32768"), True),
        (8.0, 64 * GIB, ("16384", "65536"), True),
        (0.1, 3 * GIB, ("512", "3072"), True),
        (None, 600 * MIB, ("256", "1024"), True),
    ],
)
def test_compose_limits_round_up_to_the_smallest_fargate_size(cpus, mem_limit, size, rounded):
    result = build(svc(cpus=cpus, mem_limit=mem_limit))
    assert (result.request["cpu"], result.request["memory"]) == size
    if rounded:
        [note] = result.notes
        assert f"cpu {size[0]} / memory {size[1]} MiB" in note and "rounded up" in note
    else:  # a Fargate size as written (the other half its smallest match): no note
        assert result.notes == ()



def test_compose_limits_beyond_fargate_are_an_error():
    error = build_error(svc(cpus=32.0))
    assert "16384" in error.hint and error.key == "cpus"
    # The key named is the one that asked for too much.
    assert build_error(svc(mem_limit=200 * GIB)).key == "mem_limit"
    assert build_error(svc(mem_limit=1 * GIB, mem_reservation=200 * GIB)).key == "mem_reservation"


def test_smallest_size_helper():
    assert smallest_size() == (256, 512)
    assert smallest_size(16385, None) is None


def test_x_ecsflow_cpu_and_memory_are_taken_exactly():
    request = build(svc(cpus=0.25, mem_limit=512 * MIB, x_ecsflow={"cpu": 1024, "memory": "3072"})).request
    assert (request["cpu"], request["memory"]) == ("1024", "3072")


def test_invalid_x_ecsflow_memory_lists_the_valid_memories_for_that_cpu():
    error = build_error(svc(x_ecsflow={"cpu": 1024, "memory": 1536}))
    assert error.key == "x-ecsflow.memory"
    assert "2048, 3072, 4096, 5120, 6144, 7168, 8192" in error.hint


def test_invalid_x_ecsflow_cpu_lists_the_valid_cpus():
    error = build_error(svc(x_ecsflow={"cpu": 300}))
    assert "256, 512, 1024, 2048, 4096, 8192, 16384" in error.hint


def test_x_ecsflow_cpu_alone_takes_the_smallest_memory_that_holds_the_limits():
    request = build(svc(mem_limit=3 * GIB, x_ecsflow={"cpu": 1024})).request
    assert (request["cpu"], request["memory"]) == ("1024", "3072")


def test_x_ecsflow_memory_alone_takes_the_smallest_cpu_that_allows_it():
    request = build(svc(x_ecsflow={"memory": 4096})).request
    assert (request["cpu"], request["memory"]) == ("512", "4096")


def test_memory_reservation_in_mib_and_it_sizes_the_task():
    result = build(svc(mem_reservation=3 * GIB))
    assert result.request["containerDefinitions"][0]["memoryReservation"] == 3072
    assert result.request["memory"] == "3072"


def test_memory_reservation_above_explicit_task_memory_is_an_error():
    error = build_error(svc(mem_reservation=1 * GIB, x_ecsflow={"cpu": 256, "memory": 512}))
    assert error.key == "mem_reservation"


# -- keys Fargate cannot honour --------------------------------------------------------------------


def test_not_possible_key_is_a_warning_naming_service_and_key():
    result = build(svc(name="worker", raw={"privileged": True}))
    assert result.warnings == ("service 'worker': key 'privileged' is not possible on Fargate and is ignored",)


def test_not_possible_key_is_an_error_when_strict():
    error = build_error(svc(name="worker", raw={"privileged": True}), strict=True)
    assert (error.service, error.key) == ("worker", "privileged")


@pytest.mark.parametrize(
    "raw",
    [
        {"devices": ["/dev/fuse"]},
        {"tmpfs": ["/tmp"]},
        {"extra_hosts": ["db:10.0.0.1"]},
        {"dns": ["8.8.8.8"]},
        {"network_mode": "host"},
        {"pid": "host"},
        {"sysctls": {"net.core.somaxconn": "1024"}},
        {"shm_size": "268435456"},
        {"cap_add": ["NET_ADMIN"]},
    ],
)
def test_each_not_possible_key_warns(raw):
    [key] = raw
    assert any(f"key '{key}'" in w and "not possible" in w for w in build(svc(raw=raw)).warnings)


def test_cap_add_sys_ptrace_is_allowed_and_cap_drop_is_kept():
    result = build(svc(raw={"cap_add": ["SYS_PTRACE"], "cap_drop": ["CAP_NET_RAW"]}))
    linux = result.request["containerDefinitions"][0]["linuxParameters"]
    assert linux == {"capabilities": {"add": ["SYS_PTRACE"], "drop": ["NET_RAW"]}}
    assert result.warnings == ()


def test_keys_without_ecs_meaning_are_ignored_quietly():
    raw = {
        "build": {"context": "."},
        "networks": {"default": None},
        "restart": "always",
        "container_name": "x",
        "privileged": False,
        "command": None,
        "x-notes": "local only",
    }
    assert build(svc(raw=raw)).warnings == ()



def test_unknown_compose_key_warns():
    assert any("'frobnicate'" in w for w in build(svc(raw={"frobnicate": 1})).warnings)


# -- tags ECS refuses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "fragment"),
    [
        ({"aws:cost": "1"}, "keys do not start with aws:"),
        ({"AWS:Team": "1"}, "keys do not start with aws:"),
        ({"": "1"}, "tag keys are not empty"),
        ({"team": "aws:x"}, "values do not start with aws:"),
        ({"k" * 129: "1"}, "keys have at most 128 characters"),
        ({"team": "v" * 257}, "values have at most 256 characters"),
        ({"team[x]": "1"}, "keys hold only letters, digits, spaces and _ . : / = + - @"),
        ({"team": "a,b"}, "values hold only letters, digits, spaces and _ . : / = + - @"),
        ({f"k{i}": "v" for i in range(51)}, "at most 50 tags"),
    ],
)
def test_a_tag_ecs_refuses_is_refused_alike_in_x_ecsflow_and_in_the_settings(tags, fragment):
    """One rule for tags (ECS's: TagResource, RegisterTaskDefinition), wherever they are written."""
    with pytest.raises(ComposeError) as in_service:
        parse_service_extension({"tags": tags}, service="job")
    assert in_service.value.key == "x-ecsflow.tags" and fragment in in_service.value.message
    with pytest.raises(EcsflowError) as in_settings:
        resolve_settings(environ={"ECSFLOW_TAGS": json.dumps(tags)})
    assert fragment in in_settings.value.message
    rule = in_service.value.message.removeprefix("x-ecsflow.tags must be ")
    assert in_settings.value.message == f"environment variable ECSFLOW_TAGS must be {rule}"


def test_tags_ecs_allows_pass():
    tags = {"team": "", "Kostenstelle/Zähler": "1 + 2 = 3", "owner@corp": "a:b_c.d-e", "k" * 128: "v" * 256}
    assert dict(parse_service_extension({"tags": tags}).tags) == tags
    assert resolve_settings(environ={"ECSFLOW_TAGS": json.dumps(tags)}).settings.tags == tags


def test_more_tags_than_ecs_allows_with_ecsflows_own_is_an_error():
    own = {f"team{i}": "x" for i in range(25)}
    service = svc(x_ecsflow={"tags": {f"cost{i}": "y" for i in range(23)}})
    error = build_error(service, Settings(tags=own, execution_role=EXEC_ROLE))
    assert "50" in error.message and error.key == "x-ecsflow.tags" and "47" in error.hint
    assert build(svc(x_ecsflow={"tags": {f"cost{i}": "y" for i in range(22)}}),
                 Settings(tags=own, execution_role=EXEC_ROLE)).request["tags"]


# -- images ECS refuses ----------------------------------------------------------------------------


@pytest.mark.parametrize("image", [
    "apache/airflow:|version|", "acme/job:1 2", "acme/jöb:1", "a" * 256, "acme/job@sha256:abc",
    "acme/job@md5:" + "a" * 64, "acme/job@sha256:" + "g" * 64, " ", "acme/job$", "acme/job:1\n", "@sha256:" + "0" * 64,
])
def test_an_image_ecs_refuses_is_an_error_naming_service_and_image(image):
    error = build_error(svc(image=image))
    assert (error.service, error.key) == ("job", "image")
    assert "is not an image ECS accepts" in error.message and "255" in error.message


@pytest.mark.parametrize("image", [
    "acme/job:1.2", "ghcr.io/acme/job:v1#x", "localhost:5000/a_b-c.d:tag", "a" * 255,
    "acme/job@sha256:" + "a" * 64, "acme/job:1@sha256:" + "AbCdEf01" * 8, "a" * 255 + "@sha256:" + "0" * 64,
])
def test_an_image_ecs_accepts_passes(image):
    assert container(svc(image=image))["image"] == image


def test_the_registry_prefix_counts_in_the_images_length():
    settings = Settings(registry="registry.example.com/team", execution_role=EXEC_ROLE)
    assert build_error(svc(image="a" * 240), settings).key == "image"


def test_compose_limits_that_are_a_fargate_size_exactly_need_no_note():
    result = build(svc(cpus=0.25, mem_limit=512 * MIB))
    assert (result.request["cpu"], result.request["memory"]) == ("256", "512")
    assert result.notes == ()
