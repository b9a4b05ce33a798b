"""In production the media service refuses to start without the store's keys."""

from __future__ import annotations

import pytest

from harmoniq_common.settings import SettingsError, load_settings
from harmoniq_media.settings import MediaSettings


def test_production_needs_the_store_keys() -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(MediaSettings, {"HARMONIQ_ENV": "production"})
    for variable in ("HARMONIQ_S3_ACCESS_KEY", "HARMONIQ_S3_SECRET_KEY"):
        assert variable in str(refused.value)
