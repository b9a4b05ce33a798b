"""In production the voice service refuses to start without the TURN secret."""

from __future__ import annotations

import pytest

from harmoniq_common.settings import SettingsError, load_settings
from harmoniq_voice.settings import VoiceSettings


def test_production_needs_the_turn_secret() -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(VoiceSettings, {"HARMONIQ_ENV": "production"})
    assert "HARMONIQ_TURN_SECRET" in str(refused.value)
