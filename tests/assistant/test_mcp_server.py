"""`assistant mcp` over stdio, driven by the MCP SDK's own client: list the tools, call each, and a bad argument."""

import anyio
import pytest

from tests.helpers import BIN, SAMPLE, WITKOFF_Q, line_of, store_flags

pytestmark = pytest.mark.slow


async def session_run(settings, steps):
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    server = StdioServerParameters(command=str(BIN / "assistant"), args=["mcp", *store_flags(settings)])
    async with Client(server, read_timeout_seconds=180) as client:
        return await steps(client)


@pytest.fixture(scope="module")
def results(sample_settings):
    """One server process for every call (it loads the models once)."""

    async def steps(client):
        tools = (await client.list_tools()).tools
        return {
            "tools": {tool.name: tool for tool in tools},
            "search": await client.call_tool("search", {"query": WITKOFF_Q, "k": 3}),
            "scoped": await client.call_tool("search", {"query": WITKOFF_Q, "sources": [str(SAMPLE)]}),
            "ask": await client.call_tool("ask", {"question": WITKOFF_Q}),
            "refused": await client.call_tool("ask", {"question": "What is the population of Kyiv?"}),
            "documents": await client.call_tool("list_documents", {}),
            "bad_k": await client.call_tool("search", {"query": WITKOFF_Q, "k": 0}),
            "bad_source": await client.call_tool("ask", {"question": WITKOFF_Q, "sources": ["/no/such.txt"]}),
            "empty": await client.call_tool("ask", {"question": "  "}),
            "after": await client.call_tool("list_documents", {}),  # still serving after the errors
        }

    return anyio.run(session_run, sample_settings, steps)


def test_three_tools_each_describing_what_it_returns(results):
    tools = results["tools"]
    assert set(tools) == {"search", "ask", "list_documents"}
    assert "passages" in tools["search"].description and "location" in tools["search"].description
    assert "refused" in tools["ask"].description and "quoted" in tools["ask"].description
    assert set(tools["search"].input_schema["properties"]) == {"query", "k", "sources"}
    assert set(tools["ask"].input_schema["properties"]) == {"question", "sources"}


def test_search_returns_passages_with_file_location_and_text(results, sample_bot):
    found = results["search"].structured_content["result"]
    assert not results["search"].is_error
    assert [(f["file"], f["text"]) for f in found] == [(p.source, p.text) for p in sample_bot.search(WITKOFF_Q, 3)]
    assert len(found) == 3 and all(f["file"] == str(SAMPLE) and f["location"].startswith("line") for f in found)
    witkoff = line_of("his envoy, Steve Witkoff")
    assert any(f["line_start"] <= witkoff <= f["line_end"] and "Witkoff" in f["text"] for f in found)
    assert results["scoped"].structured_content["result"][0]["file"] == str(SAMPLE)


def test_ask_returns_the_answer_its_refusal_flag_and_checked_citations(results, sample_bot):
    expected = sample_bot.ask(WITKOFF_Q)
    reply = results["ask"].structured_content
    assert not results["ask"].is_error
    assert reply["answer"] == expected.text and reply["refused"] is False
    assert reply["citations"] == [c.to_dict() for c in expected.citations]
    assert reply["citations"][0]["supported"] is True and reply["citations"][0]["quote"]
    refused = results["refused"].structured_content
    assert refused["refused"] is True and refused["citations"] == []


def test_list_documents_names_the_sample(results):
    documents = results["documents"].structured_content["result"]
    assert [d["source"] for d in documents] == sorted(str(p) for p in SAMPLE.parent.iterdir() if p.is_file())


@pytest.mark.parametrize("call, words", [("bad_k", "k"), ("bad_source", "/no/such.txt"), ("empty", "question: empty")])
def test_a_bad_argument_is_a_tool_error_not_a_crash(results, call, words):
    result = results[call]
    assert result.is_error and words in result.content[0].text, result.content
    assert not results["after"].is_error
