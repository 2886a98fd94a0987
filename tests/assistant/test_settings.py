"""assistant.settings: defaults < ASSISTANT_* variables < explicit overrides, validated, frozen; a bad value as one
InvalidSetting line; which listening addresses count as this machine only."""

from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from assistant.errors import AssistantError, InvalidSetting
from assistant.settings import Settings, is_loopback, load_settings


def test_defaults_then_environment_then_overrides(monkeypatch):
    assert Settings().k == 5
    monkeypatch.setenv("ASSISTANT_K", "7")
    monkeypatch.setenv("ASSISTANT_COLLECTION", "from-env")
    assert Settings().k == 7
    assert Settings().with_overrides(k=3, collection=None).k == 3
    assert Settings().with_overrides(k=None).collection == "from-env"


def test_overrides_of_none_only_return_the_same_object():
    settings = Settings(k=4)
    assert settings.with_overrides(k=None, mode=None) is settings
    changed = settings.with_overrides(mode="llm")
    assert (changed.mode, changed.k, settings.mode) == ("llm", 4, "extractive")


@pytest.mark.parametrize("field,value", [("k", 0), ("k", 51), ("collection", "x"), ("mode", "chatty"),
                                         ("embedding_backend", "fp16"), ("llm_timeout", 0), ("chunk_tokens", 8)])
def test_out_of_range_values_are_refused_naming_the_field(field, value):
    with pytest.raises(ValidationError, match=field):
        Settings(**{field: value})
    with pytest.raises(ValidationError, match=field):
        Settings().with_overrides(**{field: value})


def test_unknown_fields_and_changes_in_place_are_refused(monkeypatch):
    with pytest.raises(ValidationError, match="kk"):
        Settings(kk=3)
    with pytest.raises(ValidationError):
        Settings().k = 3
    monkeypatch.setenv("ASSISTANT_K", "many")
    with pytest.raises(ValidationError, match="k"):
        Settings()


def test_store_paths_live_under_the_data_dir(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    assert settings.chroma_path == tmp_path / "data" / "chroma" and settings.upload_dir == tmp_path / "data" / "uploads"
    assert Settings(data_dir=str(tmp_path)).data_dir == Path(tmp_path)


def test_the_test_session_never_sees_the_home_store():
    """tests/conftest.py's isolation: the default store is a temporary folder, not ~/.assistant."""
    assert Settings().data_dir != Path.home() / ".assistant"


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
