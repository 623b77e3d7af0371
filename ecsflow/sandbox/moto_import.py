"""Import moto for the sandbox at interactive speed: only the parts it uses, and each data file parsed once.

A sandbox command spent most of its time importing moto, not answering calls (on the example, a `diff
--sandbox` took 1.5 s against 0.3 s for `render`), in two places:

- moto's ECS backend imports moto's EC2 package, which loads every EC2 instance type of every region and lists
  AWS's regions at import time, in all about 0.3 s of CPU. The ECS backend only uses EC2 to give a task that
  runs its network interface; a `diff` or `sync` never does. ``_defer_ec2`` lets moto's ECS import with a
  placeholder for moto's EC2 backends, and moto's EC2 is imported when one is first used (a task that runs,
  an EC2 call): ``moto.ec2`` is then the real package, less its ``__init__``, which only imports that.
- botocore: moto's EC2 lists regions through three new ``boto3.Session()`` s, its backends through another,
  its request parser loads service models through a loader of its own, and each new botocore session makes
  a new data loader, which reads and parses botocore's JSON data files again (``endpoints.json``, 1.2 MB;
  EC2's service model, 5 MB unzipped): another 0.6 s. ``shared_botocore_loader`` makes every botocore session
  of this process (boto3's, moto's) share the loader ecsflow's own sessions share
  (``ecsflow.ecs.validate.data_loader``), and moto's own loader (botocore's plus moto's extra model files) is
  made once and takes from the shared one every model moto has no extras for (ECS's, 1 MB parsed). The data
  is botocore's, read-only: the same files, whichever loader reads them.

moto answers the same calls either way, through the same code; ``benchmarks/run.py`` measures the result.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any


def import_mock_aws() -> Any:
    """``moto.mock_aws``, with moto's ECS and CloudWatch Logs backends imported (the sandbox uses those)."""
    shared_botocore_loader()
    from moto import mock_aws

    _defer_ec2()
    import moto.ecs.models  # noqa: F401 - the runner patches it
    import moto.logs.models  # noqa: F401 - where the runner writes a task's output

    return mock_aws


def shared_botocore_loader() -> None:
    """Every botocore data loader made from now on in this process is the shared one for its data path."""
    import functools

    import botocore.session
    import moto.core.loaders
    import moto.core.utils

    from ecsflow.ecs.validate import data_loader

    def create_loader(search_path_string: str | None = None) -> Any:
        return data_loader(search_path_string)

    # Both modules bound their create_loader by name at import.
    botocore.session.create_loader = create_loader
    moto.core.utils.create_loader = functools.cache(lambda: _moto_loader(data_loader(None)))


def _moto_loader(shared: Any) -> Any:
    """moto's loader (botocore's, with moto's extra model files in place of botocore's own "sdk" extras), which
    takes a model that neither kind of extras changes from ``shared``, the loader ecsflow's clients use: moto's
    ECS model is then the very one the clients parsed, not another parse of the same file (and another listing
    of botocore's 400 service folders)."""
    import os

    import moto.core.loaders

    class Loader(moto.core.loaders.Loader):
        def load_service_model(self, service_name: str, type_name: str, api_version: str | None = None) -> Any:
            try:
                version = api_version or shared.determine_latest_version(service_name, type_name)
            except Exception:  # noqa: BLE001 - not a botocore service: moto's own loader says what is wrong
                return super().load_service_model(service_name, type_name, api_version)
            extras = [os.path.join(root, name, version, f"{type_name}.{kind}-extras.json{zipped}")
                      for root in {*self.search_paths, *shared.search_paths}
                      for name, kind in ((service_name, "sdk"), (service_name.replace("-", ""), "moto"))
                      for zipped in ("", ".gz")]
            if any(os.path.exists(path) for path in extras):
                return super().load_service_model(service_name, type_name, api_version)
            return shared.load_service_model(service_name, type_name, version)

    return Loader(extra_search_paths=[moto.core.loaders.moto_root])


def _defer_ec2() -> None:
    """Make ``moto.ec2`` the package without its ``__init__`` (``from .models import ec2_backends``), so that
    importing moto's ECS does not import moto's EC2 models; they are imported when ``ec2_backends`` is first
    used. Nothing to do when moto's EC2 is imported already (or moto's ECS, which imports it)."""
    if "moto.ec2" in sys.modules:
        return
    import moto

    spec = importlib.util.find_spec("moto.ec2")
    package = importlib.util.module_from_spec(spec)  # __path__ and __spec__ set; the __init__ not run

    def real_backends(name: str = "ec2_backends") -> Any:
        if name != "ec2_backends":
            raise AttributeError(f"module 'moto.ec2' has no attribute {name!r}")
        package.ec2_backends = importlib.import_module("moto.ec2.models").ec2_backends
        return package.ec2_backends

    package.__getattr__ = real_backends  # PEP 562: anyone who asks for moto.ec2.ec2_backends gets the real one
    sys.modules["moto.ec2"] = moto.ec2 = package
    # moto's ECS binds the name at import (`from moto.ec2 import ec2_backends`) and only ever indexes it.
    package.ec2_backends = _DeferredBackends(real_backends)
    try:
        import moto.ecs.models  # noqa: F401
    finally:
        del package.ec2_backends  # later: the real one (above), imported on first use


class _DeferredBackends:
    """moto's EC2 backends, imported when first indexed (or any attribute is read)."""

    def __init__(self, load: Any) -> None:
        self._load = load

    def __getitem__(self, account_id: str) -> Any:
        return self._load()[account_id]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._load(), name)
