"""A service's `volumes` on Fargate. The loader reads them as the Compose binary does (`docker-compose config
--format json`: each case both ways); named volumes become EFS or task-storage volumes that botocore's model of
RegisterTaskDefinition accepts, and that an immediate diff after sync finds unchanged, against moto and against
the shape of a real DescribeTaskDefinition answer; bind mounts and tmpfs are left out with a warning, and
`--strict` refuses what does not carry over; bad input is one error naming the file, line and key, nothing
written."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from cli_runner import ecsflow
from compose_oracle import agree_with_compose
from ecs_shapes import as_real_ecs_answers_it

from ecsflow.compose.loader import load_project
from ecsflow.diff import diff_family
from ecsflow.ecs.validate import check_register_request
from ecsflow.settings import Settings
from ecsflow.taskdef import build_task_definitions

ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
REAL_SHAPE = Path(__file__).parent / "fixtures" / "real_shape"
FS, AP = "fs-0123456789abcdef0", "fsap-0fedcba9876543210"


def write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "compose.yaml").write_text(textwrap.dedent(text))
    return folder / "compose.yaml"


def project_file(folder: Path, volumes: str, top: str = "", name: str = "shop") -> Path:
    """A compose file with one service `app` whose volumes are ``volumes`` (YAML list items), and ``top`` as
    the top-level `volumes:` mapping."""
    items = textwrap.indent(textwrap.dedent(volumes).strip("\n"), "      ")
    block = "volumes:\n" + textwrap.indent(textwrap.dedent(top).strip("\n"), "  ") + "\n" if top else ""
    return write(folder, f"name: {name}\nx-ecsflow: {{execution_role: {ROLE}}}\nservices:\n  app:\n    image: app:1\n"
                         f"    volumes:\n{items}\n{block}")


def build(folder: Path, strict: bool = False):
    project = load_project([folder / "compose.yaml"], environ={})
    [built] = build_task_definitions(project, Settings(execution_role=ROLE), strict=strict)
    check_register_request(built.request, built.service)  # botocore's model of RegisterTaskDefinition
    return built


# --- read as Compose reads them ----------------------------------------------------------------------------

SPECS = {
    "named, read-only": ["data:/data:ro"],
    "named, options": ["data:/x:ro,nocopy", "data:/y:rw"],
    "relative bind with options": ["./conf:/etc/conf:ro,z,rshared"],
    "parent folder": ["../shared/x:/x"],
    "home": ["~/cache:/cache"],
    "absolute bind kept as written": ["/etc/app/:/etc/app/"],
    "anonymous": ["/scratch", "/scratch"],
    "a later entry wins its target": ["data:/x", "./local:/x"],
    "targets cleaned": ["data:/a/./b/", "//c//"],
    "windows paths": ["C:\\\\data:/d", "a:b:c:d"],
    "too short to split": ["ab"],
    "an unknown option is ignored": ["data:/x:bogus"],
}
LONG = {
    "long bind, relative": "- {type: bind, source: rel, target: /y}",
    "long bind, empty source is the folder": "- {type: bind, source: '', target: /y}",
    "long volume, subpath and nocopy": "- {type: volume, source: data, target: /y, read_only: true, "
                                       "volume: {nocopy: true, subpath: sub}}",
    "long tmpfs": "- {type: tmpfs, target: /t/, tmpfs: {size: 1k}}",
    "long anonymous": "- {type: volume, target: /y}",
}
REFUSED = {
    "empty section": ('- ":/text_file.txt"', "empty section between colons"),
    "trailing colon": ('- "data:/x:"', "empty section between colons"),
    "too many colons": ('- "/x:/y:ro:extra"', "too many colons"),
    "bind without source": ("- {type: bind, target: /x}", 'invalid mount config for type "bind"'),
    "no target": ("- {type: volume, source: data}", "needs a target"),
    "an undeclared volume": ('- "nope:/x"', "undefined volume nope"),
}


@pytest.mark.parametrize("case", [*SPECS, *LONG], ids=[*SPECS, *LONG])
def test_volumes_are_read_as_compose_reads_them(case, tmp_path, compose_bin):
    items = "\n".join(f"- {json.dumps(spec)}" for spec in SPECS[case]) if case in SPECS else LONG[case]
    project_file(tmp_path, items, "data: {}")
    ours, error = agree_with_compose(tmp_path, env={"HOME": str(tmp_path / "home")})
    assert ours is not None, error
    assert ours["services"]["app"]["volumes"]


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_volumes_compose_refuses_are_refused_naming_the_file_and_key(case, tmp_path, compose_bin):
    item, words = REFUSED[case]
    project_file(tmp_path, item, "data: {}")
    ours, error = agree_with_compose(tmp_path)
    assert ours is None
    assert words in error and "compose.yaml:" in error and "key 'volumes'" in error, error


# --- mapped to ECS ---------------------------------------------------------------------------------------


def test_an_efs_volume_is_mounted_with_transit_encryption_and_the_access_points_authorization(tmp_path):
    project_file(tmp_path, "- data:/data:ro\n- logs:/var/log/app\n- data:/backup", f"""\
        data:
          x-ecsflow: {{efs: {{file_system_id: {FS}, access_point: {AP}, iam: true}}}}
        logs:
          x-ecsflow: {{efs: {{file_system_id: {FS}, root_directory: /logs}}}}
        """)
    built = build(tmp_path)
    assert built.request["volumes"] == [
        {"name": "data", "efsVolumeConfiguration": {
            "fileSystemId": FS, "transitEncryption": "ENABLED",
            "authorizationConfig": {"accessPointId": AP, "iam": "ENABLED"}}},
        {"name": "logs", "efsVolumeConfiguration": {
            "fileSystemId": FS, "rootDirectory": "/logs", "transitEncryption": "ENABLED"}},
    ]
    assert built.request["containerDefinitions"][0]["mountPoints"] == [
        {"sourceVolume": "data", "containerPath": "/data", "readOnly": True},
        {"sourceVolume": "logs", "containerPath": "/var/log/app", "readOnly": False},
        {"sourceVolume": "data", "containerPath": "/backup", "readOnly": False},
    ]
    assert built.warnings == ()  # EFS keeps the data: nothing to warn about


def test_iam_without_an_access_point_and_an_access_point_without_iam_authorization(tmp_path):
    # (`a:/a` would be a Windows drive's path, a bind mount, as Compose reads it.)
    project_file(tmp_path, "- aa:/a\n- bb:/b", f"""\
        aa: {{x-ecsflow: {{efs: {{file_system_id: {FS}, iam: true}}}}}}
        bb: {{x-ecsflow: {{efs: {{file_system_id: {FS}, access_point: {AP}, iam: false}}}}}}
        """)
    volumes = {v["name"]: v["efsVolumeConfiguration"] for v in build(tmp_path).request["volumes"]}
    assert volumes["aa"]["authorizationConfig"] == {"iam": "ENABLED"}
    assert volumes["bb"]["authorizationConfig"] == {"accessPointId": AP, "iam": "DISABLED"}
    assert volumes["aa"]["transitEncryption"] == volumes["bb"]["transitEncryption"] == "ENABLED"


def test_a_named_volume_without_efs_is_task_storage_with_one_warning_and_strict_refuses_it(tmp_path):
    project_file(tmp_path, "- cache:/cache\n- work:/work\n- cache:/more", "cache: {}\nwork: {driver: local}")
    built = build(tmp_path)
    assert built.request["volumes"] == [{"name": "cache"}, {"name": "work"}]  # no host: Fargate task storage
    assert [m["sourceVolume"] for m in built.request["containerDefinitions"][0]["mountPoints"]] == [
        "cache", "work", "cache"]
    [warning] = built.warnings
    assert "'cache', 'work'" in warning and "gone when the task stops" in warning and "x-ecsflow.efs" in warning
    result = ecsflow("render", "--strict", file=tmp_path / "compose.yaml", expect=1)
    assert "compose.yaml:6:5, service 'app', key 'volumes'" in result.stderr  # the volumes key
    assert "would not outlive the task" in result.stderr and "efs" in result.stderr


def test_a_bind_mount_is_left_out_naming_the_path_and_what_to_do_instead(tmp_path):
    project_file(tmp_path, "- ./conf:/etc/conf:ro\n- /var/run/docker.sock:/var/run/docker.sock", "")
    built = build(tmp_path)
    assert "volumes" not in built.request and "mountPoints" not in built.request["containerDefinitions"][0]
    [warning] = built.warnings  # one for the service's bind mounts, each named
    assert "the bind mounts ./conf:/etc/conf, /var/run/docker.sock:/var/run/docker.sock are left out" in warning
    assert "into the image" in warning and "EFS" in warning
    result = ecsflow("render", "--strict", file=tmp_path / "compose.yaml", expect=1)
    assert "the bind mounts ./conf:/etc/conf, /var/run/docker.sock:/var/run/docker.sock are not possible on " \
        "Fargate" in result.stderr
    assert "key 'volumes'" in result.stderr and "Traceback" not in result.output


def test_tmpfs_and_anonymous_volumes(tmp_path):
    project_file(tmp_path, "- {type: tmpfs, target: /run/app}\n- /scratch", "")
    built = build(tmp_path)
    assert "volumes" not in built.request
    assert any("tmpfs mount at /run/app" in w and "not possible on Fargate" in w for w in built.warnings)
    assert any("anonymous volume at /scratch" in n for n in built.notes)


def test_a_volume_name_ecs_does_not_allow_is_renamed_with_a_note(tmp_path):
    project_file(tmp_path, "- app.data:/data", "app.data: {}")
    built = build(tmp_path)
    assert built.request["volumes"] == [{"name": "app-data"}]
    assert built.request["containerDefinitions"][0]["mountPoints"][0]["sourceVolume"] == "app-data"
    assert any("'app.data' is named 'app-data'" in n for n in built.notes)
    project_file(tmp_path, "- app.data:/a\n- app-data:/b", "app.data: {}\napp-data: {}")
    result = ecsflow("render", file=tmp_path / "compose.yaml", expect=1)
    assert "both 'app-data' on ECS" in result.stderr


@pytest.mark.parametrize(("volume", "words"), [
    ("- {type: volume, source: data, target: /y, volume: {subpath: sub}}", "subpath"),
    ('- "data:rel"', "not an absolute path"),
])
def test_what_ecs_cannot_mount_is_an_error(tmp_path, volume, words):
    project_file(tmp_path, volume, "data: {}")
    result = ecsflow("render", file=tmp_path / "compose.yaml", expect=1)
    assert words in result.stderr and "service 'app', key 'volumes'" in result.stderr


# --- bad input: one error, nothing written -----------------------------------------------------------------

BAD = {
    "efs without file_system_id": ("data: {x-ecsflow: {efs: {iam: true}}}", "has no file_system_id",
                                   "volumes.data.x-ecsflow.efs"),
    "access point without iam": (f"data: {{x-ecsflow: {{efs: {{file_system_id: {FS}, access_point: {AP}}}}}}}",
                                 "access_point needs iam", "volumes.data.x-ecsflow.efs.iam"),
    "a file system id that is not one": ("data: {x-ecsflow: {efs: {file_system_id: my-files}}}",
                                         "must be an EFS file system id", "efs.file_system_id"),
    "an access point id that is not one": (f"data: {{x-ecsflow: {{efs: {{file_system_id: {FS}, access_point: ap1, "
                                           "iam: true}}}", "must be an EFS access point id", "efs.access_point"),
    "a root directory with an access point": (
        f"data: {{x-ecsflow: {{efs: {{file_system_id: {FS}, access_point: {AP}, iam: true, root_directory: /x}}}}}}",
        "must be left out (or /) with an access point", "efs.root_directory"),
    "a relative root directory": (f"data: {{x-ecsflow: {{efs: {{file_system_id: {FS}, root_directory: x}}}}}}",
                                  "must be an absolute path", "efs.root_directory"),
    "iam that is not a boolean": (f"data: {{x-ecsflow: {{efs: {{file_system_id: {FS}, iam: 'yes'}}}}}}",
                                  "iam must be true or false", "efs.iam"),
    "a misspelt key": (f"data: {{x-ecsflow: {{efs: {{filesystem_id: {FS}}}}}}}", "did you mean 'file_system_id'",
                       "efs.filesystem_id"),
    "an unknown block key": ("data: {x-ecsflow: {nfs: {}}}", "unknown key 'nfs'", "x-ecsflow.nfs"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_a_bad_efs_block_is_one_error_naming_file_line_and_key_and_nothing_is_written(case, tmp_path):
    top, words, key = BAD[case]
    project_file(tmp_path, "- data:/data", top)
    result = ecsflow("sync", "--sandbox", file=tmp_path / "compose.yaml", expect=1)
    assert words in result.stderr and key in result.stderr
    # where the key is written in the volume's block (its line, the key's column), and who mounts it
    assert re.search(r"compose\.yaml:9:\d+, service 'app'", result.stderr)
    assert "Traceback" not in result.output
    assert not (tmp_path / ".ecsflow").exists()


def test_an_undeclared_volume_is_refused_before_anything_is_written(tmp_path):
    project_file(tmp_path, "- nope:/data", "")
    result = ecsflow("sync", "--sandbox", file=tmp_path / "compose.yaml", expect=1)
    assert "compose.yaml:6:5, service 'app', key 'volumes'" in result.stderr
    assert "undefined volume nope" in result.stderr
    assert not (tmp_path / ".ecsflow").exists()


# --- after sync, diff sees nothing -------------------------------------------------------------------------


def test_sync_then_diff_is_unchanged_in_the_sandbox_and_a_changed_mount_is_a_change(tmp_path):
    top = f"data: {{x-ecsflow: {{efs: {{file_system_id: {FS}, access_point: {AP}, iam: true}}}}}}\ncache: {{}}"
    project_file(tmp_path, "- data:/data\n- cache:/cache\n- ./conf:/conf", top)
    ecsflow("sync", "--sandbox", file=tmp_path / "compose.yaml")
    ecsflow("diff", "--sandbox", "--exit-code", file=tmp_path / "compose.yaml")  # unchanged: exit 0
    project_file(tmp_path, "- data:/data:ro\n- cache:/cache\n- ./conf:/conf", top)
    changed = ecsflow("diff", "--sandbox", "--exit-code", "--format", "json", file=tmp_path / "compose.yaml", expect=2)
    [family] = json.loads(changed.stdout)["families"]
    assert [c["path"] for c in family["changes"]] == ["containers[app].mountPoints[/data].readOnly"]


def test_what_real_ecs_answers_for_efs_and_task_storage_compares_equal(tmp_path):
    project_file(tmp_path, "- data:/data:ro\n- cache:/cache", f"data: {{x-ecsflow: {{efs: {{file_system_id: {FS}}}}}}}"
                 "\ncache: {}")
    request = build(tmp_path).request
    answer = as_real_ecs_answers_it(request)
    volumes = {v["name"]: v for v in answer["taskDefinition"]["volumes"]}
    assert volumes["data"]["efsVolumeConfiguration"]["rootDirectory"] == "/" and volumes["cache"]["host"] == {}
    assert diff_family("app", request["family"], request, answer).changes == ()


def test_the_real_answer_for_an_efs_access_point_differs_only_in_what_compose_does_not_say(tmp_path):
    """A real console-made definition (tests/fixtures/real_shape/SOURCES.md), written as compose: every field ECS
    filled compares equal; the console's transitEncryptionPort, which compose cannot say, is the one change."""
    secret = "arn:aws:secretsmanager:eu-central-1:414131675413:secret:SecretWordpress-MRSCvF"
    write(tmp_path, f"""\
        services:
          wordpress:
            image: wordpress:latest
            platform: linux/amd64
            ports: [{{target: 80, name: wordpress-80-tcp, app_protocol: http}}]
            volumes: [Wordpress-convenio:/var/www/html]
            logging:
              driver: awslogs
              options: {{awslogs-group: /ecs/wordpress-convenio, mode: non-blocking, max-buffer-size: 25m}}
            x-ecsflow:
              family: wordpress-convenio
              cpu: 1024
              memory: 3072
              secrets:
                WORDPRESS_DB_HOST: "{secret}:host::"
                WORDPRESS_DB_NAME: "{secret}:dbname::"
                WORDPRESS_DB_PASSWORD: "{secret}:password::"
                WORDPRESS_DB_USER: "{secret}:username::"
        volumes:
          Wordpress-convenio:
            x-ecsflow: {{efs: {{file_system_id: fs-0b146aa6600282f06, access_point: fsap-0bc49861ed8b2aaa1,
                                iam: false}}}}
        """)
    project = load_project([tmp_path / "compose.yaml"], environ={})
    [built] = build_task_definitions(project, Settings(
        region="eu-central-1", execution_role="arn:aws:iam::414131675413:role/ecsTaskExecutionRole"))
    console = json.loads((REAL_SHAPE / "console_wordpress_efs_task_definition.json").read_text())
    answer = {"taskDefinition": console, "tags": console.pop("tags")}
    result = diff_family("wordpress", "wordpress-convenio", built.request, answer)
    assert [(c.path, c.old, c.new) for c in result.changes] == [
        ("volumes[Wordpress-convenio].efsVolumeConfiguration.transitEncryptionPort", 2049, None)]


def test_a_bad_efs_block_an_override_writes_is_named_in_that_file_and_an_unused_one_names_no_service(tmp_path):
    project_file(tmp_path, "- data:/data", f"data: {{x-ecsflow: {{efs: {{file_system_id: {FS}}}}}}}")
    (tmp_path / "override.yaml").write_text("volumes:\n  spare: {}\n  data:\n    x-ecsflow: {efs: {file_system_id: "
                                            "my-files}}\n")
    files = [tmp_path / "compose.yaml", tmp_path / "override.yaml"]
    result = ecsflow("sync", "--sandbox", file=files, expect=1)
    assert f"{tmp_path / 'override.yaml'}:4:23, service 'app', key 'volumes.data.x-ecsflow.efs.file_system_id'" \
        in result.stderr  # the override's own line and column of the key
    (tmp_path / "override.yaml").write_text("volumes:\n  spare:\n    x-ecsflow: {efs: {iam: true}}\n")
    unused = ecsflow("sync", "--sandbox", file=files, expect=1)
    assert f"{tmp_path / 'override.yaml'}:3:17, key 'volumes.spare.x-ecsflow.efs'" in unused.stderr
    assert not (tmp_path / ".ecsflow").exists()
