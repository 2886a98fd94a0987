"""A load smoke on the chat page in server mode: parallel clients on /ask and the API, no errors, bounded memory."""

import pytest


@pytest.mark.slow
def test_load_smoke_on_the_gradio_endpoint_and_the_api(chat):
    from evals.bench.load import run_load_bench

    results = run_load_bench(chat.settings, url=chat.url, pid=chat.process.pid, clients=8, seconds=3,
                             max_requests=200, log=lambda line: None)
    for name in ("gradio", "api"):
        r = results[name]
        assert r["errors"] == 0, r["error_samples"]
        assert r["answers"] >= 8 and r["p95_ms"] is not None and r["rss_growth_mb"] <= 150, r
    assert results["ok"]
