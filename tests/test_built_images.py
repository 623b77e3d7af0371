"""Services built from source (`build:` and no `image:`) run on ECS as the image Docker Compose builds for them,
pushed to the registry: `{registry}/{project}-{service}:{tag}`, the tag from --image-tag, ECSFLOW_IMAGE_TAG or
the commit of the git checkout that holds the compose file. The repository part is checked against the names the
Compose binary gives (`docker-compose config --images`)."""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
from cli_runner import ecsflow
from compose_oracle import compose_binary

from ecsflow.compose.loader import load_project
from ecsflow.gitcommit import COMMIT_LENGTH, checkout_commit
from ecsflow.settings import Settings
from ecsflow.taskdef import build_task_definitions
from ecsflow.verify import image_target

REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
COMPOSE = f"""\
x-ecsflow:
  execution_role: {ROLE}
services:
  web:
    build: .
  worker.v2:
    build: {{context: ., dockerfile: Dockerfile.worker}}
  db:
    image: postgres:16
"""


def write(folder, text=COMPOSE, name="compose.yaml"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(text))
    return folder / name


def render(folder, *args, env=None, expect=0):
    __tracebackhide__ = True
    return ecsflow("render", *args, file=folder / "compose.yaml", env=env, expect=expect)


def images(result) -> dict[str, str]:
    return {r["family"]: r["containerDefinitions"][0]["image"] for r in json.loads(result.stdout)}


def git(folder, *args):
    return subprocess.run(["git", "-C", str(folder), "-c", "user.email=ci@example.com", "-c", "user.name=CI", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def checkout(tmp_path):
    """A git checkout with the compose file committed."""
    if shutil.which("git") is None:
        pytest.fail("git is not installed")
    folder = tmp_path / "shop"
    write(folder)
    git(folder, "init", "-q")
    git(folder, "add", ".")
    git(folder, "commit", "-q", "-m", "first")
    return folder


@pytest.mark.parametrize(("name_line", "args", "project"), [
    ("", [], "shop"),  # the folder's name
    ("name: store\n", [], "store"),
    ("", ["-p", "outlet"], "outlet"),
])
def test_the_repository_is_the_name_docker_compose_gives_the_built_image(tmp_path, compose_bin, name_line, args,
                                                                           project):
    folder = tmp_path / "shop"
    write(folder, name_line + COMPOSE)
    listed = subprocess.run([str(compose_binary()), *args, "config", "--images"], cwd=folder, capture_output=True,
                            text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert listed.returncode == 0, listed.stderr
    compose_names = set(listed.stdout.split())
    assert compose_names == {f"{project}-web", f"{project}-worker.v2", "postgres:16"}

    result = render(folder, *args, "--registry", REGISTRY, "--image-tag", "1f2e3d")
    built = {image for family, image in images(result).items() if family != f"{project}-db"}
    # The same repositories, in the registry, with the tag in place of Compose's `latest`.
    assert built == {f"{REGISTRY}/{name}:1f2e3d" for name in compose_names - {"postgres:16"}}


def test_the_tag_comes_from_the_flag_over_the_environment_variable(tmp_path):
    folder = tmp_path / "shop"
    write(folder)
    from_env = render(folder, "--registry", REGISTRY, env={"ECSFLOW_IMAGE_TAG": "env-7"})
    assert images(from_env)["shop-web"] == f"{REGISTRY}/shop-web:env-7"
    both = render(folder, "--registry", REGISTRY, "--image-tag", "flag-8", env={"ECSFLOW_IMAGE_TAG": "env-7"})
    assert images(both)["shop-web"] == f"{REGISTRY}/shop-web:flag-8"
    assert images(both)["shop-db"] == f"{REGISTRY}/postgres:16"  # an image Compose pulls: the registry rule only


def test_without_a_tag_the_commit_of_the_checkout_is_the_tag(checkout):
    sha = git(checkout, "rev-parse", f"--short={COMMIT_LENGTH}", "HEAD")
    result = render(checkout, "--registry", REGISTRY)
    assert images(result)["shop-web"] == f"{REGISTRY}/shop-web:{sha}"
    assert "not committed" not in result.output
    # From a folder below the checkout's top too.
    nested = write(checkout / "deploy" / "ecs")
    git(checkout, "add", ".")
    git(checkout, "commit", "-q", "-m", "nested")
    result = ecsflow("render", "--registry", REGISTRY, file=nested)
    assert images(result)["ecs-web"].endswith(":" + git(checkout, "rev-parse", f"--short={COMMIT_LENGTH}", "HEAD"))


def test_a_checkout_with_changes_keeps_the_commit_and_says_so(checkout):
    sha = git(checkout, "rev-parse", f"--short={COMMIT_LENGTH}", "HEAD")
    (checkout / "compose.yaml").write_text(COMPOSE + "# edited\n")
    result = render(checkout, "--registry", REGISTRY)
    assert images(result)["shop-web"] == f"{REGISTRY}/shop-web:{sha}"
    assert f"image tag {sha}" in result.stderr and "not committed" in result.stderr
    assert checkout_commit(checkout).dirty


def test_git_is_not_asked_when_no_service_is_built(tmp_path, monkeypatch):
    folder = tmp_path / "pulled"
    write(folder, f"x-ecsflow: {{execution_role: {ROLE}}}\nservices:\n  db:\n    image: postgres:16\n")
    monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))  # git cannot run at all
    render(folder)  # exit 0


def test_no_tag_and_no_checkout_is_one_error_naming_the_option_and_nothing_is_written(tmp_path):
    folder = tmp_path / "shop"
    write(folder)
    result = ecsflow("sync", "--sandbox", "--registry", REGISTRY, file=folder / "compose.yaml", expect=1)
    assert "services 'web' and 'worker.v2' are built from source" in result.stderr
    assert "--image-tag" in result.stderr and "ECSFLOW_IMAGE_TAG" in result.stderr
    assert f"{folder} is not in a git checkout" in result.stderr
    assert "Traceback" not in result.output
    assert not (folder / ".ecsflow" / "sandbox").exists() or not any((folder / ".ecsflow" / "sandbox").iterdir())


def test_no_registry_names_the_service_and_both_ways_out(tmp_path):
    folder = tmp_path / "shop"
    write(folder, f"x-ecsflow: {{execution_role: {ROLE}}}\nservices:\n  web:\n    build: .\n")
    result = render(folder, "--image-tag", "v1", expect=1)
    assert "compose.yaml:4:5, service 'web', key 'registry'" in result.stderr  # at build:, which needs it
    assert "{registry}/shop-web:{tag}" in result.stderr
    assert "registry setting" in result.stderr and "x-ecsflow.image" in result.stderr


def test_x_ecsflow_image_names_the_image_on_ecs(tmp_path):
    folder = tmp_path / "shop"
    write(folder, f"""\
        x-ecsflow: {{execution_role: {ROLE}, registry: {REGISTRY}}}
        services:
          web:
            build: .
            x-ecsflow: {{image: ghcr.io/acme/storefront:3.1}}
          api:
            image: api:dev
            build: .
            x-ecsflow: {{image: "shop/api:2.0"}}
        """)
    result = render(folder)  # no tag needed: no image is named after the commit
    assert images(result) == {"shop-web": "ghcr.io/acme/storefront:3.1", "shop-api": f"{REGISTRY}/shop/api:2.0"}


@pytest.mark.parametrize("command", ["render", "diff", "sync", "run", "gen-dag", "verify", "prune", "deploy"])
def test_every_command_that_renders_takes_the_tag_and_checks_it(tmp_path, command):
    folder = tmp_path / "shop"
    write(folder)
    extra = ["web"] if command == "run" else ["--out", str(tmp_path / "dags")] if command == "gen-dag" else []
    sandbox = [] if command == "render" else ["--sandbox"]
    result = ecsflow(command, *sandbox, "--registry", REGISTRY, "--image-tag", "v1/../x", *extra,
                     file=folder / "compose.yaml", expect=1)
    assert "flag --image-tag must be an image tag" in result.stderr
    assert not (tmp_path / "dags").exists()


@pytest.mark.parametrize("tag", ["-v1", ".v1", "v1:2", "a" * 129, "v 1"])
def test_a_tag_docker_refuses_is_refused_where_it_was_written(tmp_path, tag):
    folder = tmp_path / "shop"
    write(folder, COMPOSE.replace("x-ecsflow:\n", f"x-ecsflow:\n  image_tag: '{tag}'\n"))
    result = render(folder, "--registry", REGISTRY, expect=1)
    assert f"{folder / 'compose.yaml'}:2: x-ecsflow.image_tag must be an image tag" in result.stderr


def test_a_tag_an_override_file_sets_is_refused_naming_that_file_and_line(tmp_path):
    folder = tmp_path / "shop"
    write(folder)
    write(folder, "services:\n  web:\n    environment: [A=1]\nx-ecsflow:\n  registry: r.io\n  image_tag: v/1\n",
          "override.yaml")
    result = ecsflow("sync", "--sandbox", file=[folder / "compose.yaml", folder / "override.yaml"], expect=1)
    assert f"{folder / 'override.yaml'}:6: x-ecsflow.image_tag must be an image tag" in result.stderr
    assert not (folder / ".ecsflow").exists()


def test_sync_then_diff_with_the_same_tag_shows_nothing_and_a_new_tag_is_a_change(tmp_path):
    folder = tmp_path / "shop"
    write(folder)
    compose = folder / "compose.yaml"
    ecsflow("sync", "--sandbox", "--registry", REGISTRY, "--image-tag", "a1", file=compose)
    ecsflow("diff", "--sandbox", "--registry", REGISTRY, "--image-tag", "a1", "--exit-code", file=compose)  # same
    changed = ecsflow("diff", "--sandbox", "--registry", REGISTRY, "--image-tag", "b2", "--exit-code", "--format",
                      "json", file=compose, expect=2)
    families = {f["family"]: f for f in json.loads(changed.stdout)["families"]}
    assert families["shop-web"]["status"] == "changed" and families["shop-db"]["status"] == "unchanged"
    assert "shop-web:b2" in changed.stdout


def test_verify_checks_a_built_image_in_ecr_by_its_tag(tmp_path):
    folder = tmp_path / "shop"
    write(folder)
    project = load_project([folder / "compose.yaml"], environ={})
    builds = build_task_definitions(project, Settings(registry=REGISTRY, image_tag="c0ffee", execution_role=ROLE))
    image = next(b for b in builds if b.service == "web").request["containerDefinitions"][0]["image"]
    target, why = image_target(image, "123456789012")
    assert why is None
    assert (target.kind, target.name, target.version) == ("ecr-image", "shop-web", "tag:c0ffee")


def test_the_push_file_of_the_ci_guide_names_the_images_as_ecsflow_does(tmp_path, compose_bin):
    """docs/how-to/ci.md: CI pushes with `docker compose -f compose.yaml -f compose.push.yaml push`; Compose's
    images are then the ones ecsflow's task definitions name, whether ecsflow reads the push file or not."""
    folder = tmp_path / "shop"
    write(folder, COMPOSE.replace("  db:\n    image: postgres:16\n", "").replace("worker.v2", "worker"))
    guide = (Path(__file__).parents[1] / "docs" / "how-to" / "ci.md").read_text()
    push_file = guide.split("# compose.push.yaml: only for CI's build and push\n", 1)[1].split("```", 1)[0]
    (folder / "compose.push.yaml").write_text(push_file)
    env = {"ECSFLOW_REGISTRY": REGISTRY, "ECSFLOW_IMAGE_TAG": "9a8b7c6d5e4f"}
    listed = subprocess.run([str(compose_binary()), "-f", "compose.yaml", "-f", "compose.push.yaml", "config",
                             "--images"], cwd=folder, capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", **env})
    assert listed.returncode == 0, listed.stderr
    pushed = set(listed.stdout.split())
    assert set(images(render(folder, env=env)).values()) == pushed
    both = ecsflow("render", file=[folder / "compose.yaml", folder / "compose.push.yaml"], env=env)
    assert set(images(both).values()) == pushed
