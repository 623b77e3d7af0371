"""A secret-looking name that holds the name of a thing: a file path (POSTGRES_PASSWORD_FILE: /run/secrets/db)
or a dotted class name (AIRFLOW__CORE__AUTH_MANAGER: airflow....SimpleAuthManager) is shown in render and diff,
with no "move it to x-ecsflow.secrets" warning; a real password under the same names stays masked. Through the
CLI, against moto's ThreadedMotoServer (tests/ecs_server.py)."""

from __future__ import annotations

import json

import pytest
from cli_runner import ecsflow
from ecs_server import dummy_credentials_env

from ecsflow.diff import Change
from ecsflow.masking import SENSITIVE, SENSITIVE_CHANGED, Masker, looks_sensitive, names_a_thing, secret_values

SIMPLE = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
FAB = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"


@pytest.mark.parametrize("value", ["/run/secrets/db", "/run/secrets/db/", "./secrets/db.txt", "../conf/pw",
                                   "~/.pgpass", SIMPLE, FAB, f"{SIMPLE}, {FAB}",
                                   "org.apache.kafka.common.security.plain.PlainLoginModule"])
def test_paths_and_class_names_name_a_thing(value):
    assert names_a_thing(value)
    assert not looks_sensitive("POSTGRES_PASSWORD_FILE", value)
    assert Masker().named("AIRFLOW__CORE__AUTH_MANAGER", value) == value


@pytest.mark.parametrize("value", ["hunter2", "/hunter2", "my.secret.pass", "my.Secret", "a.b.c.D e",
                                   "/run/secrets/db extra", "s3cr3t/with/slashes", "C:/secrets/db", "x" * 40])
def test_a_password_under_those_names_stays_masked(value):
    assert not names_a_thing(value)
    assert looks_sensitive("POSTGRES_PASSWORD_FILE", value)
    assert Masker().named("POSTGRES_PASSWORD_FILE", value) == SENSITIVE
    assert Masker().named("AIRFLOW__CORE__AUTH_MANAGER", value) == SENSITIVE


def test_the_environment_masks_a_password_everywhere_but_not_a_path():
    found = secret_values({"POSTGRES_PASSWORD_FILE": "/run/secrets/db", "AUTH_MANAGER": SIMPLE,
                           "DB_PASSWORD": "hunter22"})
    assert found == {"hunter22"}


def test_arguments_and_labels_follow_the_same_rule():
    masker = Masker()
    assert masker.arguments(["app", "--password-file", "/run/secrets/db", "--password", "hunter22"]) == [
        "app", "--password-file", "/run/secrets/db", "--password", SENSITIVE]
    assert masker.text("PASSWORD_FILE=/run/secrets/db TOKEN=abcd1234") == \
        f"PASSWORD_FILE=/run/secrets/db TOKEN={SENSITIVE}"
    assert masker.label("traefik.http.middlewares.auth.basicauth.usersfile", "/etc/traefik/users") == \
        "/etc/traefik/users"
    assert masker.label("com.example.api-token", "t0k3n-abcd") == SENSITIVE


def test_a_diff_shows_a_changed_path_and_hides_a_password_that_replaces_it():
    masker = Masker()
    path = "containers[db].environment.POSTGRES_PASSWORD_FILE"
    shown = masker.change(Change(path, "/run/secrets/db", "/run/secrets/db2"))
    assert (shown.old, shown.new) == ("/run/secrets/db", "/run/secrets/db2")
    # a path replaced by a password: the password is masked; the old side too, as any value a secret replaces
    hidden = masker.change(Change(path, "/run/secrets/db", "hunter22"))
    assert (hidden.old, hidden.new) == (SENSITIVE, SENSITIVE_CHANGED)


def compose(password_file: str, auth_manager: str) -> str:
    return f"""\
name: shop
x-ecsflow:
  execution_role: arn:aws:iam::123456789012:role/ecsTaskExecutionRole
services:
  db:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD_FILE: {password_file}
      AIRFLOW__CORE__AUTH_MANAGER: {auth_manager}
"""


CREDENTIALS = dummy_credentials_env()


def environment_of(render_output: str) -> dict[str, str]:
    [request] = json.loads(render_output)
    return {e["name"]: e["value"] for e in request["containerDefinitions"][0]["environment"]}


def test_render_shows_a_path_and_a_class_name_without_a_warning(tmp_path):
    compose_file = tmp_path / "compose.yaml"
    compose_file.write_text(compose("/run/secrets/db", SIMPLE))
    result = ecsflow("render", file=compose_file, env=CREDENTIALS)
    assert environment_of(result.stdout) == {"POSTGRES_PASSWORD_FILE": "/run/secrets/db",
                                             "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE}
    assert "x-ecsflow.secrets" not in result.stderr and SENSITIVE not in result.stdout


def test_render_masks_a_password_under_the_same_names_and_warns(tmp_path):
    compose_file = tmp_path / "compose.yaml"
    compose_file.write_text(compose("hunter2", "s3cr3t-manager"))
    result = ecsflow("render", file=compose_file, env=CREDENTIALS)
    assert environment_of(result.stdout) == {"POSTGRES_PASSWORD_FILE": SENSITIVE,
                                             "AIRFLOW__CORE__AUTH_MANAGER": SENSITIVE}
    assert "hunter2" not in result.stdout + result.stderr and "s3cr3t-manager" not in result.stdout + result.stderr
    for name in ("POSTGRES_PASSWORD_FILE", "AIRFLOW__CORE__AUTH_MANAGER"):
        assert f"environment variable {name} is registered in plain text" in result.stderr


def test_diff_shows_a_changed_path_and_class_name_and_masks_a_password(ecs, tmp_path):
    compose_file = tmp_path / "compose.yaml"
    compose_file.write_text(compose("/run/secrets/db", SIMPLE))
    ecsflow("sync", file=compose_file, endpoint=ecs)
    compose_file.write_text(compose("/run/secrets/db2", FAB))
    result = ecsflow("diff", "--exit-code", file=compose_file, endpoint=ecs, expect=2)
    assert 'environment.POSTGRES_PASSWORD_FILE: "/run/secrets/db" -> "/run/secrets/db2"' in result.stdout
    assert f'environment.AIRFLOW__CORE__AUTH_MANAGER: "{SIMPLE}" -> "{FAB}"' in result.stdout
    compose_file.write_text(compose("hunter2", FAB))
    result = ecsflow("diff", "--exit-code", file=compose_file, endpoint=ecs, expect=2)
    assert "hunter2" not in result.stdout + result.stderr
    assert f'environment.POSTGRES_PASSWORD_FILE: "{SENSITIVE}" -> "{SENSITIVE_CHANGED}"' in result.stdout
