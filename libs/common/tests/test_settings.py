from __future__ import annotations

import pytest

from harmoniq_common.settings import CommonSettings, SettingsError, load_settings


class DemoSettings(CommonSettings, frozen=True, kw_only=True):
    service: str = "demo"
    batch: int = 10


def test_env_vars_are_converted_and_validated() -> None:
    settings = load_settings(
        DemoSettings,
        {
            "HARMONIQ_PORT": "9001",
            "HARMONIQ_BATCH": "3",
            "HARMONIQ_LOG_JSON": "false",
            "HARMONIQ_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1",
            "UNRELATED": "x",
        },
    )
    assert settings.port == 9001
    assert settings.batch == 3
    assert settings.log_json is False
    assert settings.trusted_proxies == ["10.0.0.0/8", "127.0.0.1"]
    assert settings.database_schema == "demo"
    assert settings.instance_id


def test_bad_value_names_the_setting() -> None:
    with pytest.raises(SettingsError, match="port"):
        load_settings(DemoSettings, {"HARMONIQ_PORT": "eighty"})
