"""No secret printed: `diff` (text, markdown, JSON), `render`, `sync`, `run` and error messages through the CLI,
against moto's ThreadedMotoServer (tests/ecs_server.py). Each test asserts that no secret's text appears
anywhere in stdout or stderr, and that what is masked is still there to read (`(sensitive)` where it was).

A first revision is synced with one set of secrets ("one"), then the compose file and the CI environment get
another ("two"), so that `diff` has a change to show for every kind of secret."""

import json

import pytest
from cli_runner import ecsflow
from ecs_server import dummy_credentials_env

S = "(sensitive)"


def secrets_of(version: str) -> dict[str, str]:
    """Every secret a version of the project holds, by where it is written."""
    return {
        "ci": f"ci-secret-{version}-wJalrXUtnFEMI",  # AWS_SECRET_ACCESS_KEY of the CI environment
        "dotenv": f"dotenv-token-{version}-93kd",  # DEPLOY_TOKEN of .env
        "redis": f"redispw-{version}",
        "pg": f"pgurlpw-{version}",
        "passphrase": f"passphrase-{version}",
        "pgpass": f"pgpass-{version}",
        "accesskey": f"accesskey-{version}",
        "aws_id": {"one": "AKIAIOSFODNN7EXAMPLE", "two": "AKIAI44QH8DHBEXAMPLE"}[version],
        "github": f"ghp_{version}" + "x9Y8z7W6v5" * 4,
        "slack": f"xoxb-123456789012-{version}abcdefghij",
        "jwt": f"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ{version}MTIzNCJ9.c2lnbmF0dXJl",
        "pem": f"MIIEpAIBAAKCAQEA{version}PrivateKeyBody",
        "htpasswd": f"$apr1$H6uskkkW$IgXLP6ewTrSuBkTr{version}",
        "label_user": f"labelpw-{version}",
        "label_token": f"labeltoken-{version}",
        "cmd_password": f"cmdpw-{version}",
        "cmd_token": f"cmdtoken-{version}",
        "health": f"hcpw-{version}",
        "mysql": f"mysqlpw-{version}",
        "env_file": f"envfile-pw-{version}",
    }


def compose(version: str) -> str:
    s = secrets_of(version)
    # A literal `$` is written `$$` in a compose file.
    htpasswd = s["htpasswd"].replace("$", "$$")
    return f"""\
name: shop
x-ecsflow:
  region: us-east-1
  account: "123456789012"
  execution_role: arn:aws:iam::123456789012:role/ecsTaskExecutionRole
services:
  api:
    image: shop/api:{version}
    command: ["serve", "--db-password", "{s["cmd_password"]}", "--api-token={s["cmd_token"]}", "--workers", "4"]
    env_file: api.env
    environment:
      NOTE: "${{AWS_SECRET_ACCESS_KEY}}"
      BUILD_INFO: "deployed with ${{DEPLOY_TOKEN}}"
      REDIS_URL: "redis://:{s["redis"]}@cache:6379/0"
      DATABASE_URL: "postgres://shop:{s["pg"]}@db/shop"
      GPG_PASSPHRASE: "{s["passphrase"]}"
      PGPASS: "{s["pgpass"]}"
      S3_ACCESSKEY: "{s["accesskey"]}"
      UPLOADER_ID: "{s["aws_id"]}"
      CI_HELPER: "{s["github"]}"
      NOTIFY: "{s["slack"]}"
      SESSION_SEED: "{s["jwt"]}"
      TLS_BUNDLE: "-----BEGIN PRIVATE KEY-----\\n{s["pem"]}\\n-----END PRIVATE KEY-----"
      LOG_LEVEL: "{"INFO" if version == "one" else "DEBUG"}"
    labels:
      traefik.http.middlewares.auth.basicauth.users: "admin:{htpasswd}"
      com.example.admin.users: "admin:{s["label_user"]}"
      com.example.api-token: "{s["label_token"]}"
      com.example.release: "{version}"
    healthcheck:
      test: ["CMD-SHELL", "curl -fsS -u admin:{s["health"]} http://localhost:8080/health || exit 1"]
  db:
    image: mysql:8
    healthcheck:
      test: ["CMD", "mysqladmin", "ping", "-h", "localhost", "-p{s["mysql"]}"]
"""


def write_project(root, version: str):
    s = secrets_of(version)
    (root / "docker-compose.yml").write_text(compose(version))
    (root / ".env").write_text(f"DEPLOY_TOKEN={s['dotenv']}\n")
    # A regular env_file whose variable has a harmless name but a value known to be secret (the CI one).
    (root / "api.env").write_text(f"UPSTREAM_SETTING={s['ci']}\nSMTP_PASS={s['env_file']}\n")
    return root / "docker-compose.yml"


def all_secrets() -> list[str]:
    return [value for version in ("one", "two") for value in secrets_of(version).values()]


def assert_no_secret(result) -> None:
    printed = result.stdout + result.stderr
    leaked = [secret for secret in all_secrets() if secret in printed]
    assert not leaked, f"printed in clear: {leaked}\n{printed}"


def ci_env(version: str) -> dict[str, str]:
    """The environment of a CI job of a version: the dummy credentials, with its own secret access key."""
    return {**dummy_credentials_env(), "AWS_SECRET_ACCESS_KEY": secrets_of(version)["ci"]}


@pytest.fixture
def synced(ecs, tmp_path):
    """Revision 1 of both families holds the secrets of "one"; the files and environment now hold "two"."""
    compose_file = write_project(tmp_path, "one")
    first = ecsflow("sync", file=compose_file, endpoint=ecs, env=ci_env("one"))
    assert_no_secret(first)
    write_project(tmp_path, "two")
    return compose_file


def masked_diff(ecs, compose_file, fmt: str) -> str:
    """`diff --exit-code --format FMT` of the "two" version: changes found, no secret printed; its stdout."""
    result = ecsflow("diff", "--exit-code", "--format", fmt, file=compose_file, endpoint=ecs, env=ci_env("two"),
                     expect=2)
    assert_no_secret(result)
    return result.stdout


def test_diff_text_masks_every_secret_and_still_shows_each_change(ecs, synced):
    out = masked_diff(ecs, synced, "text")
    assert '~ containers[api].environment.LOG_LEVEL: "INFO" -> "DEBUG"' in out
    # a value interpolated from a secret-looking CI variable, under a plain name: masked, and changed
    assert f'environment.NOTE: "{S}" -> "(sensitive, changed)"' in out
    # from .env's DEPLOY_TOKEN; the old value held the old token, which no environment knows any more
    assert f'environment.BUILD_INFO: "{S}" -> "deployed with {S}"' in out
    assert f'environment.REDIS_URL: "redis://:{S}@cache:6379/0" -> "redis://:(sensitive, changed)@cache:6379/0"' in out
    assert f'"postgres://shop:{S}@db/shop"' in out
    for name in ("GPG_PASSPHRASE", "PGPASS", "S3_ACCESSKEY", "UPLOADER_ID", "CI_HELPER", "NOTIFY", "SESSION_SEED",
                 "TLS_BUNDLE", "UPSTREAM_SETTING", "SMTP_PASS"):
        assert f'environment.{name}: "{S}" -> "(sensitive, changed)"' in out, name
    assert f'"serve", "--db-password", "{S}", "--api-token={S}", "--workers", "4"' in out
    assert f"curl -fsS -u admin:{S} http://localhost:8080/health" in out
    assert f'"-p{S}"' in out
    assert f'auth.basicauth.users: "{S}" -> "(sensitive, changed)"' in out  # the middleware is named "auth"
    assert f'com.example.admin.users: "admin:{S}"' in out
    assert f'com.example.api-token: "{S}" -> "(sensitive, changed)"' in out
    assert 'com.example.release: "one" -> "two"' in out


def test_diff_markdown_masks_every_secret(ecs, synced):
    out = masked_diff(ecs, synced, "markdown")
    assert out.startswith("### ecsflow diff")
    assert f"| ~ | `containers[api].environment.NOTE` | `{S}` | `(sensitive, changed)` |" in out
    assert f"| ~ | `containers[api].environment.REDIS_URL` | `redis://:{S}@cache:6379/0` |" in out
    assert f"curl -fsS -u admin:{S} http://localhost:8080/health" in out
    assert "| ~ | `containers[api].environment.LOG_LEVEL` | `INFO` | `DEBUG` |" in out


def test_diff_json_masks_every_secret(ecs, synced):
    doc = json.loads(masked_diff(ecs, synced, "json"))
    changes = {c["path"]: (c["old"], c["new"]) for f in doc["families"] for c in f["changes"]}
    assert changes["containers[api].environment.NOTE"] == (S, "(sensitive, changed)")
    assert changes["containers[api].environment.DATABASE_URL"] == (
        f"postgres://shop:{S}@db/shop", "postgres://shop:(sensitive, changed)@db/shop")
    assert changes["containers[api].environment.LOG_LEVEL"] == ("INFO", "DEBUG")
    assert changes["containers[api].command"][1] == ["serve", "--db-password", "(sensitive, changed)",
                                                     "--api-token=(sensitive, changed)", "--workers", "4"]
    assert changes["containers[db].healthCheck.command"][1] == [
        "CMD", "mysqladmin", "ping", "-h", "localhost", "-p(sensitive, changed)"]


def test_diff_show_values_shows_everything(ecs, synced):
    """The masking above is what hides them: with --show-values they are all there."""
    result = ecsflow("diff", "--format", "json", "--show-values", file=synced, endpoint=ecs, env=ci_env("two"))
    for secret in secrets_of("two").values():
        assert json.dumps(secret)[1:-1] in result.stdout, secret


def test_diff_of_a_new_family_prints_no_secret(ecs, tmp_path):
    compose_file = write_project(tmp_path, "one")
    for fmt in ("text", "markdown", "json"):
        result = ecsflow("diff", "--format", fmt, file=compose_file, endpoint=ecs, env=ci_env("one"))
        assert "shop-api" in result.stdout
        assert_no_secret(result)


def test_render_masks_by_default_and_says_how_to_print_the_request(tmp_path):
    compose_file = write_project(tmp_path, "one")
    for fmt in ("json", "yaml"):
        result = ecsflow("render", "--format", fmt, file=compose_file, env=ci_env("one"))  # no AWS call
        assert_no_secret(result)
        assert "--show-values" in result.stderr
    requests = json.loads(ecsflow("render", file=compose_file, env=ci_env("one")).stdout)
    env = {e["name"]: e["value"] for e in requests[0]["containerDefinitions"][0]["environment"]}
    assert env["NOTE"] == S and env["LOG_LEVEL"] == "INFO"
    assert env["REDIS_URL"] == f"redis://:{S}@cache:6379/0"

    shown = ecsflow("render", "--show-values", file=compose_file, env=ci_env("one"))
    env = {e["name"]: e["value"] for e in json.loads(shown.stdout)[0]["containerDefinitions"][0]["environment"]}
    assert env["NOTE"] == secrets_of("one")["ci"]
    assert "--show-values" not in shown.stderr


def test_sync_output_and_its_failures_print_no_secret(ecs, tmp_path):
    compose_file = write_project(tmp_path, "one")
    # An error answer that echoes what it was sent, as some APIs do.
    ecs.fail("RegisterTaskDefinition", "ClientException",
             f"Invalid environment value {secrets_of('one')['ci']} for NOTE (DB_PASSWORD=hunter2x)")
    for fmt in ("text", "json"):
        result = ecsflow("sync", "--format", fmt, file=compose_file, endpoint=ecs, env=ci_env("one"), expect=1)
        assert "Invalid environment value" in result.stdout
        assert_no_secret(result)
        assert "hunter2x" not in result.stdout + result.stderr


def test_an_error_names_the_secret_not_its_value(ecs, tmp_path):
    (tmp_path / "docker-compose.yml").write_text(
        "services:\n  api:\n    image: a\n    x-ecsflow:\n      secrets: {DB_PASSWORD: hunter2}\n")
    for command in (("render",), ("diff", "--format", "markdown"), ("diff", "--format", "json"), ("sync",)):
        endpoint = None if command == ("render",) else ecs  # render makes no AWS call
        result = ecsflow(*command, file=tmp_path / "docker-compose.yml", endpoint=endpoint, env=ci_env("one"),
                         expect=1)
        assert "hunter2" not in result.stdout + result.stderr
        assert "secret DB_PASSWORD: the value in x-ecsflow.secrets is not an ARN" in result.stderr
        assert "docker-compose.yml:5:7, service 'api', key 'x-ecsflow.secrets'" in result.stderr  # the key's line
        assert result.stdout == ""


def test_an_error_echoing_a_value_from_a_secret_variable_masks_it(ecs, tmp_path):
    (tmp_path / "docker-compose.yml").write_text(
        "services:\n  api:\n    image: a\n    stop_grace_period: \"${AWS_SECRET_ACCESS_KEY}\"\n")
    result = ecsflow("diff", "--format", "markdown", file=tmp_path / "docker-compose.yml", endpoint=ecs,
                     env=ci_env("one"), expect=1)
    assert "stop_grace_period" in result.stderr
    assert_no_secret(result)


def test_run_masks_its_messages_and_the_job_output(tmp_path):
    """`run --sandbox`: the job prints a variable whose value came from the CI secret; it reaches the log
    masked, as a CI system would mask it."""
    (tmp_path / "docker-compose.yml").write_text(
        "name: jobs\nx-ecsflow:\n  subnets: [subnet-0a1b2c3d4e5f60001]\n"
        "  execution_role: arn:aws:iam::123456789012:role/exec\n"
        "services:\n  job:\n    image: example/job:1\n"
        "    command: [\"python\", \"-c\", \"import os; print('note is', os.environ['NOTE'])\"]\n"
        "    environment:\n      NOTE: \"${AWS_SECRET_ACCESS_KEY}\"\n")
    result = ecsflow("run", "job", "--sandbox", "--execute-locally", "--poll-interval", "0.02",
                     file=tmp_path / "docker-compose.yml", env=ci_env("one"))
    assert f"note is {S}" in result.stdout
    assert_no_secret(result)


def test_the_last_line_of_defence_masks_too(capsys):
    """An exception no one expected is printed by print_unexpected: masked like any other message."""
    from ecsflow import output

    output.begin_masking({"DB_PASSWORD": "pw-1234567"})
    try:
        output.print_unexpected(RuntimeError("connect failed with pw-1234567, postgres://u:pg-999@db, --token t0k"),
                                env=output.Environment())
    finally:
        output.end_masking()
    err = capsys.readouterr().err
    assert f"connect failed with {S}, postgres://u:{S}@db, --token {S}" in err
    assert "pw-1234567" not in err and "pg-999" not in err and "t0k" not in err


# --- values that interpolation made: errors name the variable, never the value ----------------------------

INTERPOLATED = "DotEnvTok-9f8e7d6c5b4a"


@pytest.mark.parametrize(("block", "key"), [
    ('    x-ecsflow:\n      cpu: "${JOB_API_TOKEN}"\n', "x-ecsflow.cpu"),
    ('    x-ecsflow:\n      memory: "${JOB_SETTING}"\n', "x-ecsflow.memory"),
    ('    x-ecsflow:\n      retries: "${JOB_SETTING}"\n', "x-ecsflow.retries"),
    ('    x-ecsflow:\n      retry_delay: "${JOB_SETTING}"\n', "x-ecsflow.retry_delay"),
    ('    x-ecsflow:\n      execution_timeout: "${JOB_SETTING}"\n', "x-ecsflow.execution_timeout"),
    ('    x-ecsflow:\n      capacity_provider: "${JOB_SETTING}"\n', "x-ecsflow.capacity_provider"),
    ('    x-ecsflow:\n      group: "team ${JOB_SETTING}"\n', "x-ecsflow.group"),
    ('    x-ecsflow:\n      pool_slots: "${JOB_SETTING}"\n', "x-ecsflow.pool_slots"),
    ('    x-ecsflow:\n      tags: {team: "${JOB_SETTING},x"}\n', "x-ecsflow.tags"),
    ('    x-ecsflow:\n      execution_role: "a ${JOB_SETTING}"\n', "x-ecsflow.execution_role"),
    ('x-top: 1\n', "x-ecsflow.region"),
    ('x-top: 2\n', "x-ecsflow.retries"),
    ('    image: "acme/job:|${JOB_SETTING}"\n', "image"),
    ('    platform: "${JOB_SETTING}"\n', "platform"),
])
@pytest.mark.parametrize("source", [".env", "--env-file"])
@pytest.mark.parametrize("command", ["render", "gen-dag", "diff"])
def test_an_error_about_an_interpolated_value_names_the_variable_never_the_value(tmp_path, block, key, source,
                                                                                 command):
    top = {"x-top: 1\n": '  region: "${JOB_SETTING}"\n', "x-top: 2\n": '  retries: "${JOB_SETTING}"\n'}
    service = "" if block in top else block
    (tmp_path / "compose.yaml").write_text(
        "x-ecsflow:\n  execution_role: arn:aws:iam::123456789012:role/exec\n" + top.get(block, "")
        + "services:\n  job:\n" + ("" if "image:" in service else "    image: acme/job:1\n") + service)
    values = f"JOB_API_TOKEN={INTERPOLATED}\nJOB_SETTING={INTERPOLATED}\n"
    env_file = tmp_path / ("local.env" if source == "--env-file" else ".env")
    env_file.write_text(values)
    args = {"render": [], "gen-dag": ["--out", str(tmp_path / "dags")],
            "diff": ["--format", "markdown", "--endpoint-url", "http://127.0.0.1:9"]}[command]
    if source == "--env-file":
        args += ["--env-file", str(env_file)]
    result = ecsflow(command, *args, file=tmp_path / "compose.yaml", env=dummy_credentials_env(), expect=1)
    output = result.stdout + result.stderr
    assert key in output and "Traceback" not in output
    assert INTERPOLATED not in output and INTERPOLATED[:9] not in output
    assert "${JOB_API_TOKEN}" in output if "JOB_API_TOKEN" in block else "${JOB_SETTING}" in output


def test_a_literal_value_is_still_shown(tmp_path):
    (tmp_path / "compose.yaml").write_text("services:\n  job:\n    image: x\n    x-ecsflow:\n      cpu: lots\n")
    (tmp_path / ".env").write_text("OTHER=lots-of-it\n")
    result = ecsflow("render", file=tmp_path / "compose.yaml", expect=1)
    assert "x-ecsflow.cpu must be a whole number, not 'lots'" in result.stderr


# gen-dag's own checks (the schedule, runtime_env defaults, pools, the DAG id) and run's rendering of a runtime
# default: the same rule. Each case: (top-level x-ecsflow lines, services, JOB_SETTING's value, the key named).
_JOB = "  job:\n    image: acme/job:1\n"
_OTHER = "  other:\n    image: acme/other:1\n"


@pytest.mark.parametrize(("top", "services", "value", "key"), [
    ("", _JOB + '    x-ecsflow: {schedule: "${JOB_SETTING}"}\n', INTERPOLATED, "x-ecsflow.schedule"),
    ("", _JOB + '    x-ecsflow: {schedule: "${JOB_SETTING} 3 * * *"}\n', INTERPOLATED, "x-ecsflow.schedule"),
    ('  schedule: "${JOB_SETTING}"\n', _JOB, INTERPOLATED, "x-ecsflow.schedule"),
    ("", _JOB + "    x-ecsflow: {schedule: '@daily'}\n" + _OTHER + '    x-ecsflow: {schedule: "${JOB_SETTING}"}\n',
     "17 3 * * 1", "x-ecsflow.schedule"),
    ("", _JOB + '    x-ecsflow: {runtime_env: {DAY: "${JOB_SETTING}"}}\n' + _OTHER
     + "    x-ecsflow: {runtime_env: {DAY: x}}\n", INTERPOLATED, "x-ecsflow.runtime_env.DAY"),
    ("", _JOB + '    x-ecsflow: {runtime_env: {DAY: "{{ ds }}${JOB_SETTING}"}}\n', "{% if DotEnvTok %}",
     "x-ecsflow.runtime_env.DAY"),
    ("", _JOB + '    x-ecsflow: {pool: "${JOB_SETTING}", pool_slots: 2}\n', INTERPOLATED, "x-ecsflow.pool_slots"),
    ('  dag_id: "nightly ${JOB_SETTING}"\n', _JOB, INTERPOLATED, "dag_id"),
])
def test_gen_dags_errors_name_the_variables_of_an_interpolated_value(tmp_path, top, services, value, key):
    (tmp_path / "compose.yaml").write_text(
        "x-ecsflow:\n  execution_role: arn:aws:iam::123456789012:role/exec\n" + top + "services:\n" + services)
    (tmp_path / ".env").write_text(f"JOB_SETTING='{value}'\n")
    result = ecsflow("gen-dag", "--out", tmp_path / "d", file=tmp_path / "compose.yaml", expect=1)
    output = result.stdout + result.stderr
    assert key in output and "${JOB_SETTING}" in output and "Traceback" not in output
    assert value not in output and value[4:13] not in output, output
    assert not (tmp_path / "d").exists()


def test_runs_error_about_an_interpolated_runtime_default_names_the_variable(tmp_path):
    (tmp_path / "compose.yaml").write_text(
        "x-ecsflow:\n  execution_role: arn:aws:iam::123456789012:role/exec\n  subnets: [subnet-1]\nservices:\n"
        + _JOB + '    x-ecsflow: {runtime_env: {DAY: "{{ ${JOB_SETTING} }}"}}\n')
    (tmp_path / ".env").write_text(f"JOB_SETTING=dag_run.{INTERPOLATED.replace('-', '_')}\n")
    result = ecsflow("run", "job", "--sandbox", file=tmp_path / "compose.yaml", expect=1)
    output = result.stdout + result.stderr
    assert "x-ecsflow.runtime_env.DAY" in output and "${JOB_SETTING}" in output and "-e DAY=VALUE" in output
    assert "DotEnvTok" not in output and "dag_run" not in output, output
