"""Fargate task sizes: the table, picking the smallest size that holds a need, and checking a chosen size.

Pure. Both the builder (compose limits, `x-ecsflow.cpu/memory`) and `ecsflow run` (`--cpu/--memory`) size
tasks through this module, so the table and its error messages live here once. Errors are `SizeError`s
naming which of the two values is wrong (`key` is "cpu" or "memory"); callers add where it was written.
"""

from __future__ import annotations

from collections.abc import Iterable

# Valid Fargate task sizes (Linux): CPU units -> memory MiB, smallest first. Source: the ECS developer guide,
# https://docs.aws.amazon.com/AmazonECS/latest/userguide/task-cpu-memory-error.html (8192 and 16384 need
# platform 1.4.0, the default "LATEST").
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}
DEFAULT_SIZE = (256, 512)
LARGEST_HINT = "the largest Fargate task is 16384 CPU units (16 vCPU) with 122880 MiB"


class SizeError(ValueError):
    """A size that is not in the Fargate table. `key`: "cpu" or "memory", the value to change."""

    def __init__(self, message: str, key: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message, self.key, self.hint = message, key, hint


def listing(values: Iterable[int]) -> str:
    return ", ".join(str(v) for v in values)


def _all_memories_hint() -> str:
    return "valid memory (MiB) per cpu: " + "; ".join(f"{c}: {listing(ms)}" for c, ms in FARGATE_SIZES.items())


def smallest_size(cpu_units: int | None = None, memory_mib: int | None = None) -> tuple[int, int] | None:
    """The smallest valid Fargate (cpu, memory) with at least these CPU units and MiB; None when too big."""
    for cpu, memories in FARGATE_SIZES.items():
        if cpu < (cpu_units or 0):
            continue
        for memory in memories:
            if memory >= (memory_mib or 0):
                return cpu, memory
    return None


def check_cpu(cpu: int, label: str = "cpu") -> None:
    if cpu not in FARGATE_SIZES:
        raise SizeError(f"{label} {cpu} is not a Fargate task size", "cpu",
                        f"valid CPU units (1024 = 1 vCPU): {listing(FARGATE_SIZES)}")


def cpus_allowing(memory: int, label: str = "memory") -> list[int]:
    """The CPU sizes that allow this memory; none is a SizeError."""
    cpus = [c for c, memories in FARGATE_SIZES.items() if memory in memories]
    if not cpus:
        raise SizeError(f"{label} {memory} MiB is not a Fargate task size", "memory", _all_memories_hint())
    return cpus


def check_pair(cpu: int, memory: int, cpu_label: str = "cpu", memory_label: str = "memory") -> None:
    check_cpu(cpu, cpu_label)
    if memory not in FARGATE_SIZES[cpu]:
        raise SizeError(f"{memory_label} {memory} MiB is not valid with {cpu_label} {cpu}", "memory",
                        f"valid memory (MiB) for cpu {cpu}: {listing(FARGATE_SIZES[cpu])}")


def exact_size(cpu: int | None, memory: int | None, need_cpu: int | None, need_memory: int | None,
               labels: tuple[str, str] = ("cpu", "memory")) -> tuple[int, int]:
    """An exact size (x-ecsflow.cpu/memory): both given, checked; one given, the other is the smallest that
    holds what the service needs (its compose limits). At least one of `cpu` and `memory` is given."""
    cpu_label, memory_label = labels
    if cpu is not None:
        check_cpu(cpu, cpu_label)
        if memory is not None:
            check_pair(cpu, memory, cpu_label, memory_label)
            return cpu, memory
        fits = [m for m in FARGATE_SIZES[cpu] if m >= (need_memory or 0)]
        if not fits:
            raise SizeError(f"cpu {cpu} allows at most {FARGATE_SIZES[cpu][-1]} MiB, not {need_memory} MiB", "cpu",
                            f"valid memory (MiB) for cpu {cpu}: {listing(FARGATE_SIZES[cpu])}")
        return cpu, fits[0]
    assert memory is not None
    cpus = cpus_allowing(memory, memory_label)
    fits = [c for c in cpus if c >= (need_cpu or 0)]
    if not fits:
        raise SizeError(f"memory {memory} MiB allows at most cpu {cpus[-1]}; the service asks {need_cpu} units",
                        "memory", f"cpus that allow {memory} MiB: {listing(cpus)}")
    return fits[0], memory


def containers_fit(containers: Iterable[dict], cpu: int, memory: int,
                   labels: tuple[str, str] = ("cpu", "memory")) -> None:
    """ECS's rules for the containers of a task of ``cpu`` units and ``memory`` MiB, checked before it refuses them
    (RegisterTaskDefinition: "The 'memory' setting for container 'X' is greater than for the task"; RunTask
    with a smaller size: the same as an InvalidParameterException): their ``cpu`` together at most the task's,
    each one's ``memory`` at most the task's, and what they reserve together (``memoryReservation``, else
    ``memory``) at most the task's. Containers without limits of their own (one container: the task's size is
    its limit) always fit."""
    cpu_label, memory_label = labels
    containers = list(containers)
    cpus = sum(c.get("cpu") or 0 for c in containers)
    if cpus > cpu:
        raise SizeError(f"{cpu_label} {cpu} is less than the {cpus} CPU units its containers ask together "
                        f"({_each(containers, 'cpu', ' units')})", "cpu",
                        f"give {cpu_label} {_at_least(FARGATE_SIZES, cpus)}, or lower the containers' cpus")
    for container in containers:
        if (container.get("memory") or 0) > memory:
            raise SizeError(f"{memory_label} {memory} MiB is less than container '{container.get('name')}'s "
                            f"memory limit {container['memory']} MiB (ECS: \"The 'memory' setting for container is "
                            "greater than for the task\")", "memory",
                            f"give {memory_label} {_at_least(_MEMORIES, container['memory'])}, or lower its mem_limit")
    reserved = sum(_reserved(c) or 0 for c in containers)
    if reserved > memory:
        raise SizeError(f"{memory_label} {memory} MiB is less than the {reserved} MiB its containers reserve "
                        f"together ({_each(containers, 'memory', ' MiB')})", "memory",
                        f"give {memory_label} {_at_least(_MEMORIES, reserved)}, or lower the containers' mem_limit or "
                        "mem_reservation")


_MEMORIES = sorted({m for memories in FARGATE_SIZES.values() for m in memories})


def _at_least(sizes: Iterable[int], need: int) -> str:
    """The smallest Fargate value that holds ``need``, as a hint says it."""
    fits = [size for size in sizes if size >= need]
    return f"{fits[0]} or more" if fits else f"more than the largest Fargate task allows ({LARGEST_HINT})"


def _reserved(container: dict) -> int | None:
    """The memory a container reserves: its reservation, else its limit."""
    return container.get("memoryReservation") or container.get("memory")


def _each(containers: list[dict], key: str, unit: str) -> str:
    """What each container asks: ``app 1024 units, proxy 512 units`` (memory: what it reserves)."""
    def asked(container: dict) -> int | None:
        return container.get("cpu") if key == "cpu" else _reserved(container)
    return ", ".join(f"{c.get('name')} {asked(c)}{unit}" for c in containers if asked(c))


def override_size(cpu: int | None, memory: int | None, current_cpu: int,
                  current_memory: int) -> tuple[int, int] | None:
    """The size to run with (`ecsflow run --cpu/--memory`), None when neither is given. With only one of them,
    the other is the task definition's, if that makes a valid pair."""
    if cpu is None and memory is None:
        return None
    if cpu is None:
        assert memory is not None
        cpus = cpus_allowing(memory, "--memory")
        if current_cpu not in cpus:
            raise SizeError(
                f"--memory {memory} MiB is not valid with the task definition's cpu {current_cpu}", "memory",
                f"add --cpu with one of {listing(cpus)}; valid memory (MiB) for cpu {current_cpu}: "
                f"{listing(FARGATE_SIZES.get(current_cpu, ()))}")
        return current_cpu, memory
    check_cpu(cpu, "--cpu")
    if memory is None:
        if current_memory in FARGATE_SIZES[cpu]:
            return cpu, current_memory
        raise SizeError(f"--cpu {cpu} does not allow the task definition's memory {current_memory} MiB", "cpu",
                        f"add --memory; valid memory (MiB) for cpu {cpu}: {listing(FARGATE_SIZES[cpu])}")
    check_pair(cpu, memory, "--cpu", "--memory")
    return cpu, memory
