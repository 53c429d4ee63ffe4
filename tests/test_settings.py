"""Settings from the environment: defaults, parsing, and one clear error per bad variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.settings import Settings, SettingsError


def test_defaults_and_values_from_the_environment() -> None:
    """The WARC store is the default archive; every variable lands in its component."""
    assert Settings.from_env({}).archive == ("warc",)
    settings = Settings.from_env({
        "PROVENANCE_ARCHIVE": "warc,wayback", "PROVENANCE_DATA_DIR": "/tmp/ev", "PROVENANCE_CONCURRENCY": "3",
        "PROVENANCE_ALLOW_PRIVATE_ADDRESSES": "yes", "PROVENANCE_WAYBACK_URL": "http://127.0.0.1:9/",
        "PROVENANCE_WAYBACK_ACCESS_KEY": "a", "PROVENANCE_WAYBACK_SECRET_KEY": "b",
        "PROVENANCE_WAYBACK_CAPTURE_WAIT": "2.5", "PROVENANCE_REDIS_URL": "redis://127.0.0.1:6379/0",
    })  # fmt: skip
    assert settings.archive == ("warc", "wayback")
    assert settings.data_dir == settings.store.root == Path("/tmp/ev")
    assert settings.concurrency == 3
    assert settings.http.allow_private_addresses
    assert settings.wayback.base_url == "http://127.0.0.1:9"
    assert settings.wayback.availability_url == "http://127.0.0.1:9/wayback/available"
    assert settings.wayback.authenticated
    assert settings.wayback.capture_wait_s == 2.5
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert Settings.from_env({"PROVENANCE_ARCHIVE": "none"}).archive == ()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PROVENANCE_CONCURRENCY", "abc"),
        ("PROVENANCE_CONCURRENCY", "0"),
        ("PROVENANCE_WAYBACK_CAPTURE_WAIT", "nan"),
        ("PROVENANCE_WAYBACK_SKIP_HOURS", "-1"),
        ("PROVENANCE_ARCHIVE", "warc,s3"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    """A value that cannot be used is a SettingsError whose message names the variable."""
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})
