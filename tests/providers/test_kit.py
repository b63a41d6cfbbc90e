"""Every provider is one kit: a settings model (strict), an emulator behind the one interface, both found by
name through entry points."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from fleet.clock import FakeClock
from fleet.emulator import Emulator, create_emulator, known_emulator_types, load_emulator_class
from fleet.errors import ProviderNotFound
from fleet.provider import known_provider_types, load_provider_class, provider_settings_model


def test_every_provider_has_an_emulator():
    assert known_emulator_types() == known_provider_types()


@pytest.mark.parametrize("kind", known_provider_types())
def test_settings_model_is_strict_and_exposed_by_the_provider(kind):
    model = provider_settings_model(kind)
    assert model is not None and model is load_provider_class(kind).settings_model
    assert model.model_config.get("extra") == "forbid"


@pytest.mark.parametrize("kind", known_emulator_types())
def test_emulator_satisfies_the_interface_and_its_settings_validate(kind):
    directory = Path(tempfile.mkdtemp(prefix=f"fleet-kit-{kind}-"))
    kit = create_emulator(kind, FakeClock(), directory)
    assert isinstance(kit, Emulator)
    assert kit.type == kind
    kit.start()
    try:
        model = provider_settings_model(kind)
        assert model is not None
        model.model_validate(kit.adapter_settings())
    finally:
        kit.stop()
        shutil.rmtree(directory, ignore_errors=True)


def test_unknown_emulator_lists_the_known_ones():
    with pytest.raises(ProviderNotFound, match="no emulator for provider type 'nosuch'; known: aks, capi"):
        load_emulator_class("nosuch")
