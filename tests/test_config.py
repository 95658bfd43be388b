"""Settings registry: defaults, parsing, range errors naming the setting, cross-field rules."""

from __future__ import annotations

import dataclasses

import pytest

from gateway.config import SETTINGS, ConfigError, Settings, is_loopback


def test_defaults_parse_and_match_the_issue():
    s = Settings.from_mapping({})
    assert (s.host, s.port, s.api_key, s.auth_token, s.route_prefix) == ("127.0.0.1", 3000, "0000", "", "")
    assert (s.token_file, s.token_list_file) == (".token", ".token-list")
    assert s.cursor_base_url == "https://api2.cursor.sh"
    assert s.max_body_bytes == 16 * 1024 * 1024
    assert s.keepalive_seconds == 15
    assert s.thinking_output == "hidden"


def test_every_setting_has_a_field_in_the_same_order():
    assert [f.name for f in dataclasses.fields(Settings)] == [s.field for s in SETTINGS]
    assert all(s.help.strip() for s in SETTINGS)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "70000"),
        ("PORT", "abc"),
        ("TIMEOUT", "0"),
        ("UPSTREAM_HTTP_VERSION", "3"),
        ("CURSOR_BASE_URL", "ftp://x"),
        ("CURSOR_CLIENT_VERSION", "latest"),
        ("CURSOR_CLIENT_VERSION", "3"),
        ("CURSOR_CLIENT_VERSION", "3.20.x"),
        ("CURSOR_CLIENT_VERSION", "cli-2026.07.08-0c04a8a"),
        ("CURSOR_VERSION_REFRESH", "10"),
        ("CURSOR_CLIENT_PLATFORM", "win32-x64"),
        ("UPSTREAM_GZIP_REQUESTS", "sometimes"),
        ("DEBUG", "maybe"),
        ("ROUTE_PREFIX", "/a?b"),
        ("THINKING_OUTPUT", "shown"),
        ("CURSOR_AGENT_CLIENT_VERSION", "2026.08.11"),
        ("CURSOR_AGENT_CLIENT_VERSION", "ide-3.1.0"),
        ("AGENT_HOST_TTL", "1"),
    ],
)
def test_bad_values_stop_start_up_naming_the_setting(name, value):
    with pytest.raises(ConfigError, match=f"^{name}: "):
        Settings.from_mapping({name: value})


def test_client_version_is_auto_by_default_or_fixed():
    s = Settings.from_mapping({})
    assert (s.cursor_client_version, s.cursor_version_refresh) == ("auto", 21600)
    assert (s.cursor_client_platform, s.upstream_gzip_requests) == ("linux-x64", False)
    assert Settings.from_mapping({"CURSOR_CLIENT_VERSION": " AUTO "}).cursor_client_version == "auto"
    assert Settings.from_mapping({"CURSOR_CLIENT_VERSION": "3.21.4"}).cursor_client_version == "3.21.4"


def test_default_key_refused_off_loopback():
    with pytest.raises(ConfigError, match="API_KEY"):
        Settings.from_mapping({"HOST": "0.0.0.0"})
    assert Settings.from_mapping({"HOST": "0.0.0.0", "API_KEY": "a-long-secret"}).host == "0.0.0.0"
    assert Settings.from_mapping({"HOST": "::1"}).host == "::1"


def test_route_prefix_is_normalised():
    assert Settings.from_mapping({"ROUTE_PREFIX": "cursor/"}).route_prefix == "/cursor"


@pytest.mark.parametrize(
    ("version", "url", "http2"),
    [
        ("auto", "https://api2.cursor.sh", True),
        ("auto", "http://127.0.0.1:9", False),
        ("2", "http://127.0.0.1:9", True),
        ("1.1", "https://api2.cursor.sh", False),
    ],
)
def test_upstream_http_version(version, url, http2):
    s = Settings.from_mapping({"UPSTREAM_HTTP_VERSION": version, "CURSOR_BASE_URL": url})
    assert s.upstream_http2 is http2


def test_is_loopback():
    assert is_loopback("localhost") and is_loopback("127.0.0.5") and is_loopback("[::1]")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")


@pytest.mark.parametrize("version", ["cli-2026.08.11-e8db854", "sdk-1.0.32", "sdk-python-1.0.32"])
def test_the_agent_client_version_is_a_cli_or_sdk_build(version):
    assert (
        Settings.from_mapping({"CURSOR_AGENT_CLIENT_VERSION": f" {version} "}).cursor_agent_client_version
        == version
    )


def test_cors_origins_are_normalised_as_browsers_send_them():
    assert Settings.from_mapping({}).cors_origins == ()
    value = " https://App.Example/ , http://localhost:5173,https://app.example:443,http://[::1]:8080 "
    assert Settings.from_mapping({"CORS_ORIGINS": value}).cors_origins == (
        "https://app.example",
        "http://localhost:5173",
        "http://[::1]:8080",
    )


@pytest.mark.parametrize(
    "value",
    [
        "null",
        "https://app.example/path",
        "app.example",
        "https://*.example.com",
        "*,https://a.example",
        "https://u@a.example",
        "https://a.example:99999",
        "https://a.example?x",
    ],
)
def test_bad_cors_origins_stop_start_up(value):
    with pytest.raises(ConfigError, match=r"^CORS_ORIGINS: "):
        Settings.from_mapping({"CORS_ORIGINS": value})


def test_any_origin_needs_a_strong_api_key():
    """With the default key, every page the user visits could spend their Cursor quota."""
    with pytest.raises(ConfigError, match=r"^CORS_ORIGINS: .*API_KEY"):
        Settings.from_mapping({"CORS_ORIGINS": "*"})
    assert Settings.from_mapping({"CORS_ORIGINS": "*", "API_KEY": "a-long-secret"}).cors_origins == ("*",)
    # Listed origins are the user's own choice, also with the default key on loopback.
    assert Settings.from_mapping({"CORS_ORIGINS": "http://localhost:5173"}).cors_origins
