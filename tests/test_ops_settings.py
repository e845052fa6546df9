"""The operating variables are read by settings, validated, and refused with the fix when wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from publisher import settings as settings_mod
from publisher.errors import ConfigError


def _load(tmp_path: Path, **env: str) -> settings_mod.Settings:
    return settings_mod.load({"PUBLISHER_HOME": str(tmp_path), **env})


def test_defaults_and_values(tmp_path: Path) -> None:
    s = _load(tmp_path)
    assert (s.log_format, s.heartbeat_seconds, s.metrics_port) == ("text", 5.0, None)
    s = _load(tmp_path, PUBLISHER_LOG_FORMAT="JSON", PUBLISHER_HEARTBEAT_SECONDS="0.5", PUBLISHER_METRICS_PORT="9191")
    assert (s.log_format, s.heartbeat_seconds, s.metrics_port) == ("json", 0.5, 9191)


@pytest.mark.parametrize(("name", "value"), [("PUBLISHER_HEARTBEAT_SECONDS", "0"), ("PUBLISHER_HEARTBEAT_SECONDS", "nan"),
                                             ("PUBLISHER_HEARTBEAT_SECONDS", "soon"), ("PUBLISHER_METRICS_PORT", "70000"),
                                             ("PUBLISHER_METRICS_PORT", "9191.5"), ("PUBLISHER_LOG_FORMAT", "xml")])
def test_bad_values_are_refused_with_the_fix(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ConfigError) as e:
        _load(tmp_path, **{name: value})
    assert name in e.value.message and (e.value.hint or "")
