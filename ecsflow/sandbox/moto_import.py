"""Import moto for the sandbox at interactive speed.

A sandbox command spends most of its time importing moto, not answering calls: moto's EC2 package (imported by
its ECS backend) lists AWS's regions at import time through three new ``boto3.Session()`` s, its backends list
their regions through another, and its request parser loads service models through a loader of its own. Each
new botocore session makes a new data loader, which reads and parses botocore's JSON data files again
(``endpoints.json``, 1.2 MB; EC2's service model, 5 MB once unzipped): about 0.6 s of CPU on one command.

``shared_botocore_loader`` makes every botocore session of this process (boto3's, moto's, ecsflow's own) share
one loader per data path, as ``ecsflow.ecs.client`` already does for the clients it makes: each file is then
parsed once per process. The data is botocore's, read-only, the same files whichever loader reads them. moto's
own loader (botocore's, plus moto's extra model files) is made once too.
"""

from __future__ import annotations

from typing import Any


def import_mock_aws() -> Any:
    """``moto.mock_aws``, with moto's ECS, EC2 and CloudWatch Logs backends imported (the sandbox uses those)."""
    shared_botocore_loader()
    import moto.ecs.models  # noqa: F401 - the runner patches it; importing it imports moto's EC2
    import moto.logs.models  # noqa: F401 - where the runner writes a task's output
    from moto import mock_aws

    return mock_aws


def shared_botocore_loader() -> None:
    """Every botocore data loader made from now on in this process is the shared one for its data path."""
    import functools

    import botocore.session
    import moto.core.loaders
    import moto.core.utils

    from ecsflow.ecs.client import _data_loader

    def create_loader(search_path_string: str | None = None) -> Any:
        return _data_loader(search_path_string)

    # Both modules bound their create_loader by name at import. moto's parser has a loader of its own (it
    # adds moto's extra model files): one of those is made once too.
    botocore.session.create_loader = create_loader
    moto.core.utils.create_loader = functools.cache(moto.core.loaders.create_loader)
