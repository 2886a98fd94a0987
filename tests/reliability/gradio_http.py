"""The chat page's endpoints as any HTTP client calls them (urllib, no gradio_client): uploads and /ask."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from pathlib import Path


def upload_event(server, files: list[dict], collection: str) -> str:
    """Call the page's upload event as the browser does (queue/join, then the SSE result): the status HTML."""
    config = json.load(urllib.request.urlopen(server.url + "config", timeout=30))
    fn = next(d for d in config["dependencies"] if d.get("api_name") == "upload")
    session = uuid.uuid4().hex[:12]
    payload = {"data": [files, None, collection], "fn_index": fn["id"], "trigger_id": fn["targets"][0][0],
               "session_hash": session, "event_data": None}
    request = urllib.request.Request(server.url + "gradio_api/queue/join", json.dumps(payload).encode(),
                                     {"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=30).close()
    with urllib.request.urlopen(f"{server.url}gradio_api/queue/data?session_hash={session}", timeout=120) as stream:
        for line in stream:
            if line.startswith(b"data: "):
                message = json.loads(line[6:])
                if message.get("msg") == "process_completed":
                    return json.dumps(message["output"]) if not message.get("success") else message["output"]["data"][1]
    raise AssertionError("no result from the upload event")


def multipart_upload(server, name: bytes, content: bytes) -> tuple[int, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\n".encode() + b'Content-Disposition: form-data; name="files"; filename="' + name +
            b'"\r\nContent-Type: text/plain\r\n\r\n' + content + f"\r\n--{boundary}--\r\n".encode())
    request = urllib.request.Request(server.url + "gradio_api/upload", body,
                                     {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


def raw_ask(server, question: str) -> tuple[str, object]:
    """POST /gradio_api/call/ask as any HTTP client can (JSON escapes carry lone surrogates that gradio_client cannot
    send): ("complete", answer dict) or ("error", message)."""
    request = urllib.request.Request(server.url + "gradio_api/call/ask",
                                     json.dumps({"data": [question, None, None]}).encode(),
                                     {"Content-Type": "application/json"})
    event = json.load(urllib.request.urlopen(request, timeout=30))["event_id"]
    kind = None
    with urllib.request.urlopen(f"{server.url}gradio_api/call/ask/{event}", timeout=120) as stream:
        for line in stream:
            line = line.decode().strip()
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind in ("complete", "error"):
                data = json.loads(line[6:])
                return kind, (data[0] if kind == "complete" else data)
    raise AssertionError("no result from /ask")
