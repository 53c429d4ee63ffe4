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


def test_requests_at_once_per_host_from_the_environment() -> None:
    """Two at once per host for batches and workers, six for one post verified at the command line;
    both can be set."""
    http = Settings.from_env({}).http
    assert (http.limit_per_host, http.one_post_limit_per_host) == (2, 6)
    http = Settings.from_env(
        {"PROVENANCE_LIMIT_PER_HOST": "1", "PROVENANCE_ONE_POST_LIMIT_PER_HOST": "3"}
    ).http
    assert (http.limit_per_host, http.one_post_limit_per_host) == (1, 3)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PROVENANCE_CONCURRENCY", "abc"),
        ("PROVENANCE_CONCURRENCY", "0"),
        ("PROVENANCE_WAYBACK_CAPTURE_WAIT", "nan"),
        ("PROVENANCE_WAYBACK_SKIP_HOURS", "-1"),
        ("PROVENANCE_ARCHIVE", "warc,s3"),
        ("PROVENANCE_LIMIT_PER_HOST", "0"),
        ("PROVENANCE_ONE_POST_LIMIT_PER_HOST", "many"),
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


def test_timeouts_and_budgets_from_the_environment() -> None:
    """Each fetch timeout and each budget has its own variable; a budget of 0 means no limit."""
    defaults = Settings.from_env({})
    assert (defaults.http.connect_timeout, defaults.http.total_timeout) == (5.0, 20.0)
    assert (defaults.budget.post_s, defaults.budget.batch_s) == (120.0, None)
    settings = Settings.from_env({
        "PROVENANCE_CONNECT_TIMEOUT": "1.5", "PROVENANCE_POOL_TIMEOUT": "30",
        "PROVENANCE_FIRST_BYTE_TIMEOUT": "7", "PROVENANCE_READ_TIMEOUT": "3",
        "PROVENANCE_TOTAL_TIMEOUT": "40",
        "PROVENANCE_POST_BUDGET": "0", "PROVENANCE_BATCH_BUDGET": "3600",
    })  # fmt: skip
    http = settings.http
    timeouts = (http.connect_timeout, http.pool_timeout, http.first_byte_timeout, http.read_timeout)
    assert (*timeouts, http.total_timeout) == (1.5, 30.0, 7.0, 3.0, 40.0)
    assert (settings.budget.post_s, settings.budget.batch_s) == (None, 3600.0)


@pytest.mark.parametrize(
    ("name", "value"),
    [("PROVENANCE_READ_TIMEOUT", "0"), ("PROVENANCE_POOL_TIMEOUT", "soon"),
     ("PROVENANCE_POST_BUDGET", "-1"), ("PROVENANCE_BATCH_BUDGET", "nan")],
)  # fmt: skip
def test_bad_timeouts_and_budgets_name_the_variable(name: str, value: str) -> None:
    """A timeout must be positive (no "no limit" for a fetch); a budget at least 0."""
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})
