"""When Python's cyclic garbage collector runs in the CLI's process.

A command's start-up makes some hundred thousand objects that live as long as the process: the modules
(botocore's; with the sandbox, moto's), botocore's service models and endpoints (parsed JSON, 2 MB of it) and
the rendered project. With the collector on, its passes over the older generations scan them again and
again while they are made: about a fifth of the CPU of a `diff --sandbox` of the example. So ``cli.main``
pauses the collector (``pause``), and once ECS is connected (``ecsflow.operations.core.aws_session``) what
exists is frozen (never scanned again; still freed by reference counting) and the collector resumes
(``resume``) for the calls that follow, however many (a long `run`, a paced `sync`, `prune` of thousands of
revisions). A command that never connects (render, config, gen-dag) is short and ends with it paused.
In-process callers (the tests, a library user) never pause it, and ``resume`` then does nothing.
"""

from __future__ import annotations

import gc

_paused = False


def pause() -> None:
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """The collector on again, for what is made from now on, if ``pause`` turned it off."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
