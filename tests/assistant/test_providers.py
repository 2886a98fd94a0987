"""Provider extras: each `--llm provider:model` with a LangChain package of its own has an extra that installs it,
and a missing one is named in one line."""

import sys
import tomllib

import pytest

from assistant import llm
from assistant.errors import LLMError
from tests.helpers import ROOT, one_line


def test_each_provider_extra_installs_its_langchain_package():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for provider, extra in llm.EXTRAS.items():
        assert any(spec.startswith(f"langchain-{provider}") for spec in extras[extra]), (provider, extras.get(extra))
    assert extras["llm"] == ["llama-cpp-python[server]>=0.3.7"]


@pytest.mark.parametrize("provider, package", [("ollama", "langchain_ollama"), ("anthropic", "langchain_anthropic")])
def test_a_missing_provider_package_names_the_extra(monkeypatch, provider, package):
    monkeypatch.setitem(sys.modules, package, None)  # as if not installed, whatever this machine has
    with pytest.raises(LLMError) as caught:
        llm._chat_model(f"{provider}:some-model", None, None, 5.0, 64)
    assert one_line(str(caught.value)) == (f"llm: '{provider}:some-model' needs its provider's package: "
                                           f"pip install 'grounded-assistant[{provider}]'")


def test_assistant_mcp_without_the_sdk_names_the_extra(monkeypatch, settings):
    from assistant.errors import AssistantError
    from assistant.mcp_server import run

    monkeypatch.setitem(sys.modules, "mcp", None)
    with pytest.raises(AssistantError, match=r"pip install 'grounded-assistant\[mcp\]'$"):
        run(settings)
