"""assistant.settings: defaults < ASSISTANT_* variables < explicit overrides, validated, frozen."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from assistant.settings import Settings


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
