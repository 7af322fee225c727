"""services.kit.settings: the one settings base of the services, read from each service's own environment
prefix, with the format's freshness window for the services that receive signed messages."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ReceiverSettings, ServiceSettings
from services.municipality_gateway.config import GatewaySettings
from services.registry_intake.config import RegistrySettings
from services.tpf.config import TpfSettings
from shared.envelope.freshness import FreshnessWindow


class ExampleSettings(ReceiverSettings):
    model_config = SettingsConfigDict(env_prefix="IPLOS_EXAMPLE_")
    database_file = "example.db"


REQUIRED = {"IPLOS_EXAMPLE_KEY_DIR": "k", "IPLOS_EXAMPLE_DIRECTORY": "d", "IPLOS_EXAMPLE_STATE_DIR": "/state"}


def test_the_base_reads_its_fields_under_the_services_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("IPLOS_EXAMPLE_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("IPLOS_EXAMPLE_MAX_CLOCK_SKEW_S", "60")
    monkeypatch.setenv("IPLOS_OTHER_LOG_LEVEL", "ERROR")  # another service's
    monkeypatch.setenv("IPLOS_EXAMPLE_NOT_A_SETTING", "x")  # ignored, as before
    settings = ExampleSettings()  # type: ignore[call-arg]  # from the environment
    assert (settings.key_dir, settings.state_dir, settings.log_level) == (Path("k"), Path("/state"), "DEBUG")
    assert settings.effective_database_url == "sqlite:////state/example.db"
    assert settings.freshness_window == FreshnessWindow(dt.timedelta(days=30), dt.timedelta(seconds=60))


def test_the_folders_are_required_no_defaults() -> None:
    with pytest.raises(ValidationError) as refused:
        ExampleSettings()  # type: ignore[call-arg]
    assert {error["loc"][0] for error in refused.value.errors()} == {"key_dir", "directory", "state_dir"}


def test_a_database_url_wins_over_the_file() -> None:
    settings = ExampleSettings(
        key_dir=Path("k"), directory=Path("d"), state_dir=Path("s"), database_url="postgresql://x"
    )
    assert settings.effective_database_url == "postgresql://x"


def test_the_defaults_are_the_services_and_the_formats() -> None:
    settings = ExampleSettings(key_dir=Path("k"), directory=Path("d"), state_dir=Path("s"))
    assert settings.freshness_window == FreshnessWindow()
    assert (settings.max_message_age_days, settings.max_clock_skew_s) == (30.0, 300.0)
    assert (settings.max_body_bytes, settings.audit_checkpoint_interval_s) == (1 << 30, 60.0)
    assert (settings.log_level, settings.metrics_token_required, settings.credentials_file) == ("INFO", True, None)
    assert (settings.session_idle_timeout_s, settings.session_max_age_s) == (30 * 60, 8 * 3600)


@pytest.mark.parametrize(
    ("settings", "base", "prefix", "database"),
    [
        (GatewaySettings, ServiceSettings, "IPLOS_GATEWAY_", "gateway.db"),
        (TpfSettings, ReceiverSettings, "IPLOS_TPF_", "tpf.db"),
        (RegistrySettings, ReceiverSettings, "IPLOS_REGISTRY_", "registry.db"),
    ],
)
def test_each_service_builds_on_the_base_under_its_own_prefix(
    settings: type[ServiceSettings], base: type[ServiceSettings], prefix: str, database: str
) -> None:
    assert issubclass(settings, base)
    assert settings.model_config.get("env_prefix") == prefix
    assert settings.model_config.get("extra") == "ignore"
    made = settings(key_dir=Path("k"), directory=Path("d"), state_dir=Path("s"))
    assert made.effective_database_url == f"sqlite:///{Path('s') / database}"


def test_tls_is_on_by_default_with_the_certificate_in_the_key_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = ExampleSettings(key_dir=Path("k"), directory=Path("d"), state_dir=Path("s"))
    assert settings.plain_http is False
    assert (settings.tls_cert_path, settings.tls_key_path) == (Path("k/tls/cert.pem"), Path("k/tls/key.pem"))
    monkeypatch.setenv("IPLOS_EXAMPLE_PLAIN_HTTP", "true")
    monkeypatch.setenv("IPLOS_EXAMPLE_TLS_CERT_FILE", "/etc/iplos/cert.pem")
    changed = ExampleSettings(key_dir=Path("k"), directory=Path("d"), state_dir=Path("s"))
    assert changed.plain_http is True
    assert changed.tls_cert_path == Path("/etc/iplos/cert.pem")
