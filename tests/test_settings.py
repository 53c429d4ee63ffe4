"""Settings from the environment: defaults, parsing, and one clear error per bad variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.settings import ArchiveTarget, Settings, SettingsError, parse_archive


def test_defaults_and_values_from_the_environment() -> None:
    """The WARC store is the default archive; every variable lands in its component."""
    assert Settings.from_env({}).archive == {ArchiveTarget.WARC}
    settings = Settings.from_env({
        "PROVENANCE_ARCHIVE": "warc,wayback", "PROVENANCE_DATA_DIR": "/tmp/ev", "PROVENANCE_CONCURRENCY": "3",
        "PROVENANCE_ALLOW_PRIVATE_ADDRESSES": "yes", "PROVENANCE_WAYBACK_URL": "http://127.0.0.1:9/",
        "PROVENANCE_WAYBACK_ACCESS_KEY": "a", "PROVENANCE_WAYBACK_SECRET_KEY": "b",
        "PROVENANCE_WAYBACK_CAPTURE_WAIT": "2.5", "PROVENANCE_REDIS_URL": "redis://127.0.0.1:6379/0",
    })  # fmt: skip
    assert settings.archive == {ArchiveTarget.WARC, ArchiveTarget.WAYBACK}
    assert settings.data_dir == Path("/tmp/ev")
    assert settings.concurrency == 3
    assert settings.http.allow_private_addresses
    assert settings.wayback.base_url == "http://127.0.0.1:9"
    assert settings.wayback.availability_url == "http://127.0.0.1:9/wayback/available"
    assert settings.wayback.authenticated
    assert settings.wayback.capture_wait_s == 2.5
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert Settings.from_env({"PROVENANCE_ARCHIVE": "none"}).archive == frozenset()


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


@pytest.mark.parametrize("raw", ["warc,wayback", "wayback,warc", " wayback , warc "])
def test_archive_targets_in_any_order(raw: str) -> None:
    """The flag and the variable share one parser: both orders name the same two targets."""
    assert parse_archive(raw) == {ArchiveTarget.WARC, ArchiveTarget.WAYBACK}
    assert Settings.from_env({"PROVENANCE_ARCHIVE": raw}).archive == parse_archive(raw)


@pytest.mark.parametrize("raw", ["none,warc", "warc,warc", "warc,", "s3", "WARC", ",,"])
def test_archive_spellings_refused(raw: str) -> None:
    """Anything but ``none`` or distinct known targets is refused, by the flag and the variable alike."""
    with pytest.raises(SettingsError):
        parse_archive(raw)
    with pytest.raises(SettingsError, match="PROVENANCE_ARCHIVE"):
        Settings.from_env({"PROVENANCE_ARCHIVE": raw})


def test_empty_archive_variable_is_the_default() -> None:
    """An empty ``PROVENANCE_ARCHIVE`` counts as unset (the WARC store), like every other variable."""
    assert Settings.from_env({"PROVENANCE_ARCHIVE": " "}).archive == {ArchiveTarget.WARC}
    with pytest.raises(SettingsError):
        parse_archive("")
