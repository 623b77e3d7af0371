"""ecsflow.masking: what looks secret is masked, only the secret part of a longer string, and nothing else.

The end-to-end cases (diff in text, markdown and JSON, render, sync, errors, through the CLI) are in
tests/test_secrets_cli.py; here each rule is pinned down on its own, with what it must leave alone.
"""

from __future__ import annotations

import time

import pytest

from ecsflow.diff import Change, ChangeSet, FamilyDiff
from ecsflow.masking import SENSITIVE, SENSITIVE_CHANGED, Masker, looks_sensitive, secret_values

S = SENSITIVE
GITHUB_TOKEN = "ghp_" + "A1b2C3d4E5" * 4
JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
PRIVATE_KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx\n-----END RSA PRIVATE KEY-----"


@pytest.mark.parametrize(
    ("name", "sensitive"),
    [("API_KEY", True), ("AWS_SECRET_ACCESS_KEY", True), ("DBPASSWORD", True), ("GITHUB_TOKEN", True),
     ("PRIVATE_KEY", True), ("session-cookie", True), ("PASSPHRASE", True), ("GPG_PASSPHRASE", True),
     ("PGPASS", True), ("ACCESSKEY", True), ("S3_ACCESSKEY", True), ("SMTP_PASS", True), ("dbPassword", True),
     ("apiKey", True), ("Authorization", True),
     ("MONKEY", False), ("KEYBOARD_LAYOUT", False), ("LOG_LEVEL", False), ("BYPASS_CACHE", False),
     ("COMPASS", False), ("PASSENGER_COUNT", False), ("AUTHOR", False)],
)
def test_sensitive_names_are_whole_words(name, sensitive):
    assert looks_sensitive(name) is sensitive


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        # passwords in URLs, with or without a user; only the password goes
        ("redis://:pw@cache:6379/0", f"redis://:{S}@cache:6379/0"),
        ("postgres://app:s3cret@db/app?sslmode=require", f"postgres://app:{S}@db/app?sslmode=require"),
        ("amqp://guest:guest@mq:5672 and https://u:p@h/x", f"amqp://guest:{S}@mq:5672 and https://u:{S}@h/x"),
        # credential shapes anywhere
        ("key AKIAIOSFODNN7EXAMPLE in text", f"key {S} in text"),
        ("ASIAY34FZKBOKMUTVV7A", S),
        (f"token={GITHUB_TOKEN}", f"token={S}"),
        ("glpat-xxxxxxxxxxxxxxxxxxxx", S),
        ("https://hooks.slack.com/services/T000/B000/XXXX", f"https://{S}"),
        ("xoxb-123456789012-abcdefghij", S),
        (f"Cookie: session={JWT}", f"Cookie: session={S}"),
        (f"key:\n{PRIVATE_KEY}\nafter", f"key:\n{S}\nafter"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1r (cut)", S),
        ("admin:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/,bob:$2y$05$abc", f"admin:{S},bob:{S}"),
        ("Authorization: Bearer abcdef0123456789", f"Authorization: Bearer {S}"),
        # secret-looking arguments of a command line
        ("serve --db-password pw --port 5432", f"serve --db-password {S} --port 5432"),
        ("serve --db-password=pw --api-token 'a b c'", f"serve --db-password={S} --api-token {S}"),
        ("PGPASSWORD=pw psql -h db", f"PGPASSWORD={S} psql -h db"),
        ("java -Dssl.keyStorePassword=changeit -jar a.jar", f"java -Dssl.keyStorePassword={S} -jar a.jar"),
        ("curl -fsS -u admin:pw http://localhost/ || exit 1", f"curl -fsS -u admin:{S} http://localhost/ || exit 1"),
        ("curl -uadmin:pw http://x", f"curl -uadmin:{S} http://x"),
        ("curl -H 'X-Api-Key: k3y' http://x", f"curl -H 'X-Api-Key: {S}' http://x"),
        ("mysqladmin ping -h db -pr00t", f"mysqladmin ping -h db -p{S}"),
        ("redis-cli -a s3cret ping", f"redis-cli -a {S} ping"),
        ("sshpass -p pw ssh host", f"sshpass -p {S} ssh host"),
        ("mongosh mongodb://db -u admin -p pw", f"mongosh mongodb://db -u admin -p {S}"),
        ("keytool -list -storepass pw -password pw2", f"keytool -list -storepass {S} -password {S}"),
        ("wget --user=admin --password=pw http://x", f"wget --user=admin --password={S} http://x"),
        ("openssl rsa -in k.pem -passin pass:hunter2", f"openssl rsa -in k.pem -passin pass:{S}"),
    ],
)
def test_text_masks_only_the_secret_part(text, masked):
    assert Masker().text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "redis://cache:6379/0",  # no password
        "https://registry.example.com:443/@scope/pkg",  # a port, then an @ in the path
        "docker run -u 1000:1000 img",  # -u is a user:group outside curl/wget
        "redis-cli -p 6379 ping",  # -p is a port
        "mysql -h db -p appdb",  # `-p DB`: mysql prompts, appdb is the database
        "python -m etl.extract --source orders --to s3://acme-raw/orders/",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-password",  # a reference, not a value
        "MONKEY=banana KEYBOARD_LAYOUT=us",
        "AKIAIOSFODNN7EXAMPL",  # one character short of an access key id
        "service 'api', key 'x-ecsflow.secrets': secret DB_PASSWORD: the value is not an ARN",
    ],
)
def test_text_leaves_what_is_not_secret(text):
    assert Masker().text(text) == text


def test_values_of_secret_looking_variables_are_masked_wherever_they_end_up():
    masker = Masker.for_environment({
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG",
        "DATABASE_URL": "postgres://app:urlpassword@db/app",  # a plain name: its URL's password is collected
        "CI_TOKEN": "abc",  # too short: would mask everything
        "AUTH_ENABLED": "true",
        "PWD": "/home/ci/project",  # the shell's working directory, not a password
        "PATH": "/usr/bin",
    })
    assert masker.values == {"wJalrXUtnFEMI/K7MDENG", "urlpassword"}
    assert masker.text("NOTE=wJalrXUtnFEMI/K7MDENG!") == f"NOTE={S}!"
    assert masker.text("echo urlpassword > /home/ci/project/x") == f"echo {S} > /home/ci/project/x"
    assert masker.text("abc true") == "abc true"
    # A value containing another is hidden whole.
    both = Masker.for_environment({"A_TOKEN": "secret-one", "B_TOKEN": "secret-one-longer"})
    assert both.text("x secret-one-longer y secret-one") == f"x {S} y {S}"


def test_secret_values_strips_and_ignores_non_strings():
    assert secret_values({"API_KEY": "  padded-secret\n", "DB_PASSWORD": None}) == {"  padded-secret\n",
                                                                                       "padded-secret"}


def test_a_request_is_masked_by_the_key_that_holds_each_value():
    request = {
        "family": "p-api",
        "containerDefinitions": [{
            "name": "api",
            "image": "api:1",
            "command": ["serve", "--db-password", "pw", "--workers", "4"],
            "entryPoint": ["curl", "-u", "admin:pw"],
            "environment": [{"name": "DB_PASSWORD", "value": "hunter2"}, {"name": "MODE", "value": "fast"},
                            {"name": "CACHE", "value": "redis://:pw@cache"}],
            "secrets": [{"name": "API_TOKEN", "valueFrom": "arn:aws:ssm:eu-west-1:1:parameter/api/token"}],
            "dockerLabels": {"traefik.http.middlewares.a.basicauth.users": "admin:pw", "com.example.users": "a:b",
                             "com.example.api-key": "k", "com.example.port": "localhost:8080"},
            "healthCheck": {"command": ["CMD-SHELL", "curl -u admin:pw http://localhost/"], "interval": 30},
            "logConfiguration": {"logDriver": "splunk", "options": {"splunk-token": "t0k3n", "splunk-url": "u"}},
        }],
    }
    c = Masker().tree(request)["containerDefinitions"][0]
    assert c["command"] == ["serve", "--db-password", S, "--workers", "4"]
    assert c["entryPoint"] == ["curl", "-u", f"admin:{S}"]
    assert c["environment"] == [{"name": "DB_PASSWORD", "value": S}, {"name": "MODE", "value": "fast"},
                                {"name": "CACHE", "value": f"redis://:{S}@cache"}]
    assert c["secrets"] == request["containerDefinitions"][0]["secrets"]  # a secret's ARN is a reference
    # a label naming users keeps the user names: `user:password` entries lose their passwords
    assert c["dockerLabels"] == {"traefik.http.middlewares.a.basicauth.users": f"admin:{S}",
                                 "com.example.users": f"a:{S}",
                                 "com.example.api-key": S, "com.example.port": "localhost:8080"}
    assert c["healthCheck"] == {"command": ["CMD-SHELL", f"curl -u admin:{S} http://localhost/"], "interval": 30}
    assert c["logConfiguration"]["options"] == {"splunk-token": S, "splunk-url": "u"}
    assert c["image"] == "api:1" and c["name"] == "api"


def test_changes_are_masked_by_path_and_a_hidden_change_still_shows():
    masker = Masker.for_environment({"AWS_SECRET_ACCESS_KEY": "ci-secret-two"})
    changes = masker.changes((
        Change("containers[mysql].environment.MYSQL_ROOT_PASSWORD", "password", "hunter2"),
        Change("containers[api].environment.GITHUB_TOKEN", None, "ghp_x"),
        Change("containers[api].environment.DATABASE_URL", "postgres://u:p@h/db", "postgres://u:q@h/db"),
        Change("containers[api].environment.LOG_LEVEL", "INFO", "DEBUG"),
        Change("containers[api].secrets.DB_PASSWORD", "arn:aws:ssm:::parameter/a", "arn:aws:ssm:::parameter/b"),
        Change("containers[side]", None, {"image": "x", "environment": {"API_KEY": "k", "MODE": "m"}}),
        # the previous value of a field that now comes from a secret is hidden too (a rotated CI secret)
        Change("containers[api].environment.NOTE", "ci-secret-one", "ci-secret-two"),
        Change("containers[api].command", ["x", "--token", "t1"], ["x", "--token", "t2"]),
        Change("containers[api].command", ["x", "--token", "t1"], ["y", "--token", "t1"]),
        Change("containers[api].dockerLabels.com.example.api-key", "k1", "k2"),
    ))
    assert [(c.old, c.new) for c in changes] == [
        (S, SENSITIVE_CHANGED),
        (None, S),
        (f"postgres://u:{S}@h/db", f"postgres://u:{SENSITIVE_CHANGED}@h/db"),
        ("INFO", "DEBUG"),
        ("arn:aws:ssm:::parameter/a", "arn:aws:ssm:::parameter/b"),
        (None, {"image": "x", "environment": {"API_KEY": S, "MODE": "m"}}),
        (S, SENSITIVE_CHANGED),
        (["x", "--token", S], ["x", "--token", SENSITIVE_CHANGED]),
        (["x", "--token", S], ["y", "--token", S]),  # visibly changed: nothing to flag
        (S, SENSITIVE_CHANGED),
    ]


def test_changeset_masking_keeps_the_shape():
    changeset = ChangeSet((FamilyDiff("api", "p-api", "changed", 3, (
        Change("containers[api].environment.DB_PASSWORD", "a", "b"),)),))
    masked = Masker().changeset(changeset)
    assert masked.families[0].changes == (Change("containers[api].environment.DB_PASSWORD", S, SENSITIVE_CHANGED),)
    assert (masked.families[0].family, masked.families[0].live_revision) == ("p-api", 3)


def test_masking_twice_changes_nothing_more():
    masker = Masker.for_environment({"API_TOKEN": "tok-value"})
    for text in ("curl -u a:b http://x --token tok-value", f"redis://:pw@h {JWT}", "PGPASSWORD=x psql"):
        once = masker.text(text)
        assert masker.text(once) == once


def test_masking_a_large_change_set_is_fast():
    """Masking is applied to everything printed: a few thousand strings must cost milliseconds."""
    masker = Masker.for_environment({f"SECRET_{i}": f"value-number-{i:04d}" for i in range(50)})
    request = {"containerDefinitions": [
        {"name": f"c{i}", "image": f"img:{i}", "command": ["serve", "--port", str(i), "--db-password", "x"],
         "environment": [{"name": f"VAR_{j}", "value": f"postgres://u:p@h/{j} some text value {j}"}
                         for j in range(40)]}
        for i in range(50)
    ]}
    start = time.perf_counter()
    masked = masker.tree(request)
    elapsed = time.perf_counter() - start
    assert masked["containerDefinitions"][0]["environment"][0]["value"] == f"postgres://u:{S}@h/0 some text value 0"
    assert elapsed < 1.0, elapsed  # ~2,000 strings; measured about 0.05 s


def test_a_value_with_a_password_in_a_url_looks_sensitive_under_any_name():
    """The builder's warning ("registered in plain text ... move it to x-ecsflow.secrets") uses this rule."""
    assert looks_sensitive("CACHE", "redis://:pw@cache:6379")
    assert looks_sensitive("DATABASE_URL", "postgres://u:pw@db/app")
    assert not looks_sensitive("DATABASE_URL", "postgres://db/app")
    assert not looks_sensitive("LOG_LEVEL", "INFO")
