"""The foundation's settings: flags on top of ASSISTANT_* variables, a bad value as one InvalidSetting line, and which
listening addresses count as this machine only."""

import pytest
from typer.testing import CliRunner

from assistant.errors import AssistantError, InvalidSetting
from assistant.settings import Settings, is_loopback, load_settings


def test_flags_land_on_top_of_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ASSISTANT_K", "7")
    monkeypatch.setenv("ASSISTANT_COLLECTION", "from-env")
    settings = load_settings(collection="from-flag", mode=None)
    assert settings.k == 7 and settings.collection == "from-flag" and settings.mode == "extractive"
    base = Settings(data_dir=tmp_path)
    assert load_settings(base, k=3).data_dir == tmp_path and load_settings(base) is base


@pytest.mark.parametrize("overrides, field", [({"k": 0}, "k"), ({"collection": "x"}, "collection"),
                                               ({"mode": "poetry"}, "mode")])
def test_a_bad_flag_is_one_line_naming_its_field(overrides, field):
    with pytest.raises(InvalidSetting) as caught:
        load_settings(**overrides)
    message = str(caught.value)
    assert message.startswith(f"{field}: ") and "\n" not in message and "got " in message
    assert isinstance(caught.value, AssistantError)


def test_a_bad_environment_variable_is_one_line_too(monkeypatch):
    monkeypatch.setenv("ASSISTANT_MAX_FILE_MB", "lots")
    with pytest.raises(InvalidSetting, match=r"^max_file_mb: .*'lots'") as caught:
        load_settings()
    assert "\n" not in str(caught.value)


def test_both_command_lines_print_it_as_one_error_line():
    from assistant.cli import app

    for args in (["ask", "hello", "--k", "0"], ["eval", "--k", "0"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert result.output.strip().splitlines() == [result.output.strip()] and "error: k: " in result.output


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.8.9.10", True), ("localhost", True), (" LocalHost ", True), ("::1", True),
    ("[::1]", True), ("0.0.0.0", False), ("::", False), ("192.168.1.4", False), ("example.org", False), ("", False),
])
def test_which_addresses_are_this_machine_only(host, loopback):
    assert is_loopback(host) is loopback
