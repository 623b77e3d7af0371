"""The sandbox patches moto's internals (ecsflow/sandbox/moto_pin.py names them, and the moto they were written
against): another moto, or one whose internals moved, is a clear error before the first patch goes on, not a
sandbox that answers wrongly."""

from __future__ import annotations

import moto
import pytest
from moto.ecs.responses import EC2ContainerServiceResponse

from ecsflow.errors import EcsflowError
from ecsflow.sandbox.moto_pin import MOTO_INTERNALS, check_moto
from ecsflow.sandbox.session import sandbox_session


@pytest.fixture
def fresh_check():
    check_moto.cache_clear()
    yield
    check_moto.cache_clear()


def test_the_installed_moto_is_the_pinned_one():
    check_moto()  # no error: pyproject.toml's pin and moto_pin's agree
    assert any(name.startswith("moto.ecs.responses:EC2ContainerServiceResponse.") for name in MOTO_INTERNALS)


def test_another_moto_minor_version_is_a_clear_error(fresh_check, monkeypatch, tmp_path):
    monkeypatch.setattr(moto, "__version__", "5.3.0")
    with pytest.raises(EcsflowError) as error, sandbox_session(tmp_path):
        pass
    assert error.value.message == ("the sandbox works with moto 5.2.x, whose internals it patches, and moto 5.3.0 "
                                   "is installed")
    assert error.value.hint == "pip install 'moto>=5.2,<5.3' (what ecsflow[sandbox] installs)"


def test_an_internal_that_moved_is_named(fresh_check, monkeypatch, tmp_path):
    monkeypatch.delattr(EC2ContainerServiceResponse, "list_services")
    with pytest.raises(EcsflowError) as error, sandbox_session(tmp_path):
        pass
    assert error.value.message.endswith(f"moto {moto.__version__} is installed, which lacks "
                                        "moto.ecs.responses:EC2ContainerServiceResponse.list_services")


def test_a_parameter_that_moved_is_named(fresh_check, monkeypatch):
    from moto.ecs.models import EC2ContainerServiceBackend

    def create_service(self, cluster_str, name, desired_count):  # a renamed parameter
        raise AssertionError("never called")

    monkeypatch.setattr(EC2ContainerServiceBackend, "create_service", create_service)
    with pytest.raises(EcsflowError) as error:
        check_moto()
    assert "lacks moto.ecs.models:EC2ContainerServiceBackend.create_service(cluster_str, service_name" in (
        error.value.message)
