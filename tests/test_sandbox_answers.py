"""The sandbox's kept answers (ecsflow/sandbox/answers.py): a read-only command of an unchanged sandbox is answered
without starting moto, and says exactly what moto would have said; any change of the state is answered by moto."""

from __future__ import annotations

import json
import subprocess
import sys

from cli_runner import ecsflow_process

# A command run in a process of its own, then which of the heavy modules it imported.
IMPORTED = """
import sys
sys.argv = ["ecsflow", *sys.argv[1:]]
from ecsflow.cli import main
try:
    main()
except SystemExit as end:
    code = end.code
print("imported", "moto" in sys.modules, "botocore.session" in sys.modules, file=sys.stderr)
sys.exit(code)
"""


def imports(project, *command: str) -> tuple[str, str]:
    """(stdout, what it imported: "imported <moto> <botocore.session>") of ``ecsflow COMMAND``."""
    done = subprocess.run([sys.executable, "-c", IMPORTED, *command], cwd=project, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr.strip().splitlines()[-1]


def answers_file(project):
    return project / ".ecsflow" / "sandbox" / "answers.cache"


def test_a_second_diff_of_an_unchanged_sandbox_starts_no_moto_and_says_the_same(etl_project):
    ecsflow_process("sync", "--sandbox", cwd=etl_project)
    first, imported = imports(etl_project, "diff", "--sandbox")
    assert imported == "imported True True"  # nothing kept yet: moto answered, and its answers are kept
    assert answers_file(etl_project).is_file()
    again, imported = imports(etl_project, "diff", "--sandbox")
    assert imported == "imported False False"
    assert again == first
    assert "No changes. 4 task definition(s) match ECS." in again
    _, imported = imports(etl_project, "sync", "--sandbox")  # a no-op sync asks the same of the families
    assert imported == "imported False False"


def test_kept_answers_give_what_moto_gives_in_every_format(etl_project):
    ecsflow_process("sync", "--sandbox", cwd=etl_project)
    ecsflow_process("diff", "--sandbox", cwd=etl_project)  # keeps the answers
    for command in (("diff", "--sandbox", "--format", "json"), ("diff", "--sandbox", "--format", "markdown"),
                    ("sync", "--sandbox", "--format", "json")):
        kept = ecsflow_process(*command, cwd=etl_project).stdout
        answers_file(etl_project).unlink()
        from_moto = ecsflow_process(*command, cwd=etl_project).stdout
        assert kept == from_moto, command
        assert answers_file(etl_project).is_file()  # kept again by the session moto answered


def test_a_state_file_edited_by_hand_is_answered_by_moto(etl_project):
    ecsflow_process("sync", "--sandbox", cwd=etl_project)
    ecsflow_process("diff", "--sandbox", cwd=etl_project)
    state = etl_project / ".ecsflow" / "sandbox" / "etl-load.json"
    document = json.loads(state.read_text())
    document["revisions"][-1]["request"]["containerDefinitions"][0]["image"] = "etl/load:0.9"
    state.write_text(json.dumps(document))
    changed = ecsflow_process("diff", "--sandbox", "--exit-code", "--no-services", cwd=etl_project, expect=2).stdout
    assert "etl/load:0.9" in changed and "etl/load:1.4.2" in changed


def test_what_sync_registers_is_what_the_next_diff_sees(etl_project):
    ecsflow_process("sync", "--sandbox", cwd=etl_project)
    ecsflow_process("diff", "--sandbox", cwd=etl_project)
    compose = etl_project / "docker-compose.yml"
    compose.write_text(compose.read_text().replace("etl/load:1.4.2", "etl/load:1.5.0"))
    # The kept answer of etl-load is the old revision: the change shows, from kept answers or not.
    assert "etl/load:1.5.0" in ecsflow_process("diff", "--sandbox", "--exit-code", "--no-services",
                                               cwd=etl_project, expect=2).stdout
    synced = ecsflow_process("sync", "--sandbox", "--format", "json", cwd=etl_project).stdout
    assert [f["family"] for f in json.loads(synced)["families"] if f["status"] == "registered"] == ["etl-load"]
    ecsflow_process("diff", "--sandbox", "--exit-code", "--no-services", cwd=etl_project)  # exit 0: no change left


def kept_operations(project) -> list[str]:
    """The operations of the questions kept in the answers file, sorted."""
    return sorted(json.loads(key)[0] for key in json.loads(answers_file(project).read_text())["answers"])


def test_the_diff_after_a_sync_that_registered_starts_no_moto_and_says_what_moto_says(etl_project):
    """A session that wrote asks its questions again once its writes are saved, and keeps those answers."""
    ecsflow_process("sync", "--sandbox", cwd=etl_project)
    ecsflow_process("diff", "--sandbox", cwd=etl_project)  # keeps the families' and the service's answers
    compose = etl_project / "docker-compose.yml"
    compose.write_text(compose.read_text().replace("etl/load:1.4.2", "etl/load:1.5.0"))
    synced = ecsflow_process("sync", "--sandbox", "--format", "json", cwd=etl_project).stdout
    assert [f["family"] for f in json.loads(synced)["families"] if f["status"] == "registered"] == ["etl-load"]
    # sync changed no service: the service's question is asked again too
    assert kept_operations(etl_project) == ["describe_services"] + ["describe_task_definition"] * 4
    said = {}
    for command in (("diff", "--sandbox"), ("diff", "--sandbox", "--format", "json")):
        said[command], imported = imports(etl_project, *command)
        assert imported == "imported False False", command
        answers_file(etl_project).unlink()
        from_moto, imported = imports(etl_project, *command)
        assert imported == "imported True True"
        assert said[command] == from_moto, command
    assert "No changes. 4 task definition(s) match ECS." in said[("diff", "--sandbox")]


def test_a_session_that_changed_a_service_keeps_only_the_families_answers(etl_project):
    """In the sandbox a DescribeServices moves a rollout on: a session whose services changed does not ask it
    again, so the next describe of the service is moto's."""
    ecsflow_process("sync", "--sandbox", cwd=etl_project)
    ecsflow_process("diff", "--sandbox", cwd=etl_project)
    ecsflow_process("deploy", "--sandbox", cwd=etl_project)  # creates the service api
    assert kept_operations(etl_project) == ["describe_task_definition"] * 4
    listed, imported = imports(etl_project, "diff", "--sandbox")
    assert imported == "imported True True"  # the service's question: moto
    assert "0 to create, 0 to update, 1 unchanged" in listed


def test_the_questions_asked_again_are_bounded():
    from ecsflow.sandbox.answers import REASK_LIMIT, KeptAnswersClient, question

    class Moto:
        asked = 0

        def describe_task_definition(self, **params):
            self.asked += 1
            return {"taskDefinition": {"family": params["taskDefinition"], "revision": 1}}

    moto = Moto()
    kept = {question("describe_task_definition", {"taskDefinition": f"f{n}"}): {} for n in range(REASK_LIMIT)}
    client = KeptAnswersClient(kept, lambda: moto, lambda: True)
    assert len(client.asked_again()) == REASK_LIMIT and moto.asked == REASK_LIMIT
    client.describe_task_definition(taskDefinition="one-more")
    assert client.asked_again() is None  # a big project keeps nothing after a write: asking again costs too much
    assert client.asked_again(("describe_services",)) is None  # none of that operation was asked


def test_an_unreadable_answers_file_is_ignored_and_written_again(etl_project):
    ecsflow_process("sync", "--sandbox", cwd=etl_project)
    answers_file(etl_project).write_bytes(b"\xff\x00 not ours")
    ecsflow_process("diff", "--sandbox", "--exit-code", "--no-services", cwd=etl_project)
    assert json.loads(answers_file(etl_project).read_text())["answers"]


def test_a_deploy_after_kept_answers_follows_its_rollout_in_moto(etl_project):
    """The describes before deploy's first write may be kept answers; after it, moto answers every call (the
    rollout it follows is in moto's state, not in the kept answers)."""
    ecsflow_process("sync", "--sandbox", cwd=etl_project)
    ecsflow_process("diff", "--sandbox", cwd=etl_project)
    created = ecsflow_process("deploy", "--sandbox", "--format", "json", cwd=etl_project).stdout
    assert [(s["service"], s["status"]) for s in json.loads(created)["services"]] == [("api", "created")]
    again = ecsflow_process("deploy", "--sandbox", "--format", "json", cwd=etl_project).stdout
    assert [(s["service"], s["status"]) for s in json.loads(again)["services"]] == [("api", "unchanged")]
    assert "0 to create, 0 to update, 1 unchanged" in ecsflow_process("diff", "--sandbox", cwd=etl_project).stdout


def test_once_moto_has_started_it_answers_every_question():
    """After any call that is not a kept question (a write), moto's state may differ from the kept answers'."""
    from ecsflow.sandbox.answers import KeptAnswersClient, question

    class Moto:
        started = False

        def start(self):
            self.started = True
            return self

        def describe_task_definition(self, **params):
            return {"taskDefinition": {"family": "etl-load", "revision": 2}}

        def register_task_definition(self, **params):
            return {"taskDefinition": {"family": "etl-load", "revision": 2}}

    moto = Moto()
    ask = {"taskDefinition": "etl-load", "include": ["TAGS"]}
    kept = {question("describe_task_definition", ask): {"taskDefinition": {"family": "etl-load", "revision": 1}}}
    client = KeptAnswersClient(kept, moto.start, lambda: moto.started)
    assert client.describe_task_definition(**ask)["taskDefinition"]["revision"] == 1
    assert not moto.started
    client.register_task_definition(family="etl-load", containerDefinitions=[])
    assert client.describe_task_definition(**ask)["taskDefinition"]["revision"] == 2
    assert client.recorded == {question("describe_task_definition", ask): {
        "taskDefinition": {"family": "etl-load", "revision": 2}}}


def test_a_sandbox_without_moto_says_how_to_install_it_wherever_it_finds_out(etl_project, monkeypatch):
    """moto not installed (found at the session's start), or installed without a module it needs (found when moto
    starts, at the first call that needs it): one error, with the install command, and nothing written."""
    import importlib.util

    from cli_runner import ecsflow

    import ecsflow.sandbox.moto_import as moto_import

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *rest: None if name == "moto" else real_find_spec(name, *rest))
    done = ecsflow("diff", "--sandbox", cwd=etl_project, expect=1)
    assert "error: --sandbox needs moto, which is not installed\n" in done.stderr
    assert "hint: pip install 'ecsflow[sandbox]'" in done.stderr
    monkeypatch.setattr(importlib.util, "find_spec", real_find_spec)

    def partial_install():
        raise ImportError("No module named 'flask'", name="flask")

    monkeypatch.setattr(moto_import, "import_mock_aws", partial_install)
    done = ecsflow("sync", "--sandbox", cwd=etl_project, expect=1)
    assert "error: --sandbox needs moto, which is not installed (it cannot import flask)" in done.stderr
    assert "hint: pip install 'ecsflow[sandbox]'" in done.stderr and "Traceback" not in done.output
    assert not list((etl_project / ".ecsflow" / "sandbox").glob("*.json"))
