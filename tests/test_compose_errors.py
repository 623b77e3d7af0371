"""Bad compose input: one clear message naming file and line (and service/key when known), exit code 1,
no traceback. Checked through the CLI, as a user meets them."""

import textwrap

import pytest
from cli_runner import assert_clean_error, ecsflow

# Every test here runs with each YAML path (conftest.yaml_parser): they must give the same results.
pytestmark = pytest.mark.usefixtures("yaml_parser")


def run(tmp_path, compose_text, *args, files=None, env=None, expect=1):
    """`ecsflow render` of ``compose_text`` (dedented) as compose.yaml, beside ``files``: refused unless told."""
    __tracebackhide__ = True
    (tmp_path / "compose.yaml").write_text(textwrap.dedent(compose_text))
    for name, text in (files or {}).items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    return ecsflow("render", *args, file=tmp_path / "compose.yaml", env=env, expect=expect)


def test_yaml_syntax_error_names_file_line_and_column(tmp_path):
    result = run(tmp_path, """\
        services:
          app:
            image: [unclosed
        """)
    assert_clean_error(result, "compose.yaml:4:1", "YAML syntax error")


def test_duplicate_key_is_rejected_with_both_lines(tmp_path):
    result = run(tmp_path, """\
        services:
          app:
            image: a
            environment:
              A: "1"
            image: b
        """)
    assert_clean_error(result, "compose.yaml:6:5", "duplicate key 'image'", "first written on line 3")


def test_missing_required_variable_shows_its_message(tmp_path):
    result = run(tmp_path, """\
        services:
          app:
            image: "app:${TAG:?set TAG to the release}"
        """)
    assert_clean_error(result, "compose.yaml:3", "service 'app'", "required variable TAG", "set TAG to the release")


def test_missing_env_file_is_named(tmp_path):
    result = run(tmp_path, """\
        services:
          app:
            image: app
            env_file: nowhere.env
        """)
    assert_clean_error(result, "nowhere.env", "env file not found", "service 'app'", "compose.yaml")


def test_missing_or_special_label_file_is_named(tmp_path):
    """As Compose: "label file ... not found"; and, as for env files, /dev/zero is refused, not read for ever."""
    result = run(tmp_path, """\
        services:
          app:
            image: app
            label_file: ./labels/nowhere.labels
        """)
    assert_clean_error(result, "nowhere.labels", "label file not found", "service 'app'",
                       "listed in the label_file")
    result = run(tmp_path, """\
        services:
          app:
            image: app
            label_file: /dev/zero
        """)
    assert_clean_error(result, "/dev/zero", "label file is not a regular file", "service 'app'")


def test_optional_env_file_may_be_missing(tmp_path):
    result = run(tmp_path, """\
        services:
          app:
            image: app
            env_file:
              - path: nowhere.env
                required: false
        """, expect={0, 1, 2})  # (it exits 1: the service has no execution role)
    assert result.exit_code != 1 or "env file not found" not in result.stderr


def test_extends_cycle_is_reported(tmp_path):
    result = run(tmp_path, """\
        services:
          a:
            image: x
            extends: b
          b:
            extends: a
        """)
    assert_clean_error(result, "extends cycle", "a -> b -> a")


def test_service_without_image_or_build(tmp_path):
    result = run(tmp_path, """\
        services:
          job:
            command: run
        """)
    assert_clean_error(result, "compose.yaml:2:3,", "service 'job'", "neither an image nor a build")  # `job:`


def test_unknown_key_suggests_the_nearest(tmp_path):
    result = run(tmp_path, """\
        services:
          job:
            image: x
            enviroment:
              A: "1"
        """)
    assert_clean_error(result, "compose.yaml:4", "unknown key 'enviroment'", "did you mean 'environment'")


def test_bad_duration_names_service_and_key(tmp_path):
    result = run(tmp_path, """\
        services:
          job:
            image: x
            stop_grace_period: soon
        """)
    assert_clean_error(result, "service 'job'", "stop_grace_period", "invalid duration")


def test_bad_size_names_service_and_key(tmp_path):
    result = run(tmp_path, """\
        services:
          job:
            image: x
            mem_limit: lots
        """)
    assert_clean_error(result, "service 'job'", "mem_limit", "invalid size")


def test_invalid_interpolation_syntax(tmp_path):
    result = run(tmp_path, """\
        services:
          job:
            image: "x:${TAG"
        """)
    assert_clean_error(result, "compose.yaml:3", "invalid interpolation format")


@pytest.mark.parametrize(("value", "position"), [
    ("pw${oopsS3cret", "character 3"),  # an unclosed ${ inside a password
    ("pw${oopsS3cret-x", "character 3"),  # an operator, then no closing brace
    ("pw${oopsS3cret%x}", "position 15"),  # a character no variable name holds
])
def test_a_bad_interpolation_names_where_it_is_never_the_text(tmp_path, value, position):
    """A value that is not a valid template may be a password with a `$` in it: the error names the file, line,
    service, key and position, and quotes nothing of the value (not even what follows the `${`)."""
    result = run(tmp_path, f"""\
        services:
          db:
            image: x
            environment:
              DB_PASSWORD: "{value}"
        """)
    assert_clean_error(result, "compose.yaml:5", "service 'db'", "environment.DB_PASSWORD",
                       "invalid interpolation format", position)
    assert "oops" not in result.stderr and "S3cret" not in result.stderr


def test_a_bad_interpolation_in_an_env_file_names_the_file_and_line(tmp_path):
    result = run(tmp_path, """\
        services:
          db:
            image: x
            env_file: db.env
        """, files={"db.env": "USER=app\nDB_PASSWORD=pw${oopsS3cret\n"})
    assert_clean_error(result, "db.env:2", "DB_PASSWORD", "character 3")
    assert "oops" not in result.stderr and "S3cret" not in result.stderr


def test_missing_compose_file(tmp_path):
    result = ecsflow("render", file=tmp_path / "absent.yaml", expect=1)
    assert_clean_error(result, "absent.yaml", "compose file not found")


def test_debug_shows_the_traceback(tmp_path):
    result = run(tmp_path, "services:\n  job:\n    command: x\n", "--debug")
    assert result.exception is not None and "neither an image" in str(result.exception)


@pytest.mark.parametrize("text", ["- just\n- a list\n", "services: [a, b]\n"])
def test_wrong_shapes(tmp_path, text):
    result = run(tmp_path, text)
    assert_clean_error(result, "compose.yaml", "must be a mapping")


@pytest.mark.parametrize(
    ("service_text", "fragment"),
    [
        ("    image: [x]\n", "services.job.image must be a string"),
        ("    image: x\n    command: 123\n", "services.job.command must be a string or a list"),
        ("    image: x\n    environment: 5\n", "services.job.environment must be a mapping or a list"),
        ("    image: x\n    env_file: [{required: false}]\n", "services.job.env_file.0 missing property 'path'"),
        ("    image: x\n    ulimits: {nofile: lots}\n", "services.job.ulimits.nofile: failed to cast to expected type"),
        ("    image: x\n    healthcheck: {test: x, interval: 10}\n",
         "services.job.healthcheck.interval must be a string"),
        ("    image: x\n    x-ecsflow: [cpu]\n", "services.job.x-ecsflow must be a mapping"),
    ],
    ids=["image", "command", "environment", "env_file", "ulimits", "healthcheck-interval", "x-ecsflow"],
)
def test_wrong_types_are_named_as_compose_names_them(tmp_path, service_text, fragment):
    result = run(tmp_path, "services:\n  job:\n" + service_text)
    assert_clean_error(result, "compose.yaml:", "service 'job'", fragment)


def test_invalid_service_name(tmp_path):
    result = run(tmp_path, 'services:\n  "my job":\n    image: x\n')
    assert_clean_error(result, "invalid service name 'my job'")


def test_empty_file_alone_is_an_error_but_not_beside_others(tmp_path):
    assert_clean_error(run(tmp_path, ""), "empty compose file")
    (tmp_path / "base.yaml").write_text("x-ecsflow: {execution_role: arn:aws:iam::123456789012:role/exec}\n"
                                          "services:\n  job:\n    image: x\n")
    files = ["-f", str(tmp_path / "base.yaml"), "-f", str(tmp_path / "compose.yaml")]
    ecsflow("render", *files)


def test_a_file_that_is_not_utf8_is_named(tmp_path):
    (tmp_path / "compose.yaml").write_bytes(b"services:\n  job:\n    image: \xff\xfe\n")
    result = ecsflow("render", file=tmp_path / "compose.yaml", expect=1)
    assert_clean_error(result, "compose.yaml", "not UTF-8")


def test_an_error_in_a_merged_service_names_a_line_of_the_file_it_names(tmp_path):
    """A service that two files write: a key of the first is named in the first file at its own line, a key of
    the override in the override at its line (not the override's name with the first file's line)."""
    base = """\
        x-ecsflow: {execution_role: "arn:aws:iam::123456789012:role/r"}
        services:
          other:
            image: o
          web:
            image: w
            stop_signal: 5
        """
    override = {"override.yaml": "services:\n  web:\n    environment: [A=1]\n"}
    args = ("-f", str(tmp_path / "override.yaml"))
    assert_clean_error(run(tmp_path, base, *args, files=override),
                       f"{tmp_path / 'compose.yaml'}:7:5, service 'web', key 'stop_signal'")
    override = {"override.yaml": "services:\n  web:\n    environment: [A=1]\n    image: 'a b'\n"}
    assert_clean_error(run(tmp_path, base.replace("stop_signal: 5", "stop_signal: SIGINT"), *args, files=override),
                       f"{tmp_path / 'override.yaml'}:4:5, service 'web', key 'image'")


def test_a_reference_check_names_the_file_that_wrote_the_key(tmp_path):
    """The key is in the first file, the service also in an override: the error names the first file's line."""
    base = """\
        services:
          web:
            image: w
            network_mode: host
            networks: [front]
        networks:
          front: {}
        """
    override = {"override.yaml": "services:\n  web:\n    environment: [A=1]\n"}
    assert_clean_error(run(tmp_path, base, "-f", str(tmp_path / "override.yaml"), files=override),
                       f"{tmp_path / 'compose.yaml'}:5:5, service 'web', key 'networks'",
                       "declares mutually exclusive `network_mode` and `networks`")


def test_a_top_level_check_names_the_file_that_wrote_the_definition(tmp_path):
    base = """\
        services:
          web:
            image: w
        secrets:
          token: {name: token}
        """
    override = {"override.yaml": "secrets:\n  other: {file: ./other.txt}\n"}
    assert_clean_error(run(tmp_path, base, "-f", str(tmp_path / "override.yaml"), files=override),
                       f"{tmp_path / 'compose.yaml'}:5, key 'secrets.token'", "one of file|environment must be set")
