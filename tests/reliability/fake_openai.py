"""A local HTTP server speaking the OpenAI chat-completions protocol (SSE streaming included) that misbehaves on
purpose: down, slow, endless, cut off, or talking nonsense."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeOpenAI(ThreadingHTTPServer):
    """Enough of POST /v1/chat/completions (JSON and SSE streaming) to misbehave on purpose; the model name picks how.

    good: cites the passage that names Witkoff. nocite: no markers. invented: a real sentence marked [9] and an
    invented one marked [7]. offtopic: a claim no passage holds. obey: does what the injected document says.
    cutoff: three tokens, then the connection is reset. cutoff_clean: three tokens, then a clean end without [DONE].
    badchunk: a chunk that is not JSON. error500: HTTP 500. notjson: an HTML error page with a JSON content type.
    drop: closes the connection without answering. slow: answers after 30 s. trickle: one token every 0.2 s, forever.
    hold: answers as good does once the test calls `release()`; `held` counts requests waiting so (a slow answer the
    test controls: wait on `changed`, never sleep).
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _FakeHandler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}/v1"
        self.requests: list[dict] = []
        self.changed = threading.Condition()
        self.held = 0
        self._released = threading.Event()

    def release(self) -> None:
        """Let every held request, and every later one, answer."""
        self._released.set()

    def hold(self) -> None:
        """Hold `hold` requests again until the next release()."""
        self._released.clear()

    def wait_held(self, count: int, timeout: float = 120) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: self.held >= count, timeout):
                raise TimeoutError(f"{self.held} requests held, expected {count} within {timeout} s")

    def handle_error(self, request, client_address):  # resets and timeouts are the point here
        pass


def _chunk(text: str | None, finish: str | None = None) -> dict:
    return {"id": "fake", "object": "chat.completion.chunk", "created": 0, "model": "fake",
            "choices": [{"index": 0, "delta": {"content": text} if text is not None else {}, "finish_reason": finish}]}


class _FakeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _event(self, payload) -> None:
        data = f"data: {payload if isinstance(payload, str) else json.dumps(payload)}\n\n".encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _reply(self, behaviour: str, system: str) -> str:
        passages = dict(re.findall(r'<passage number="(\d+)"[^>]*>\n(.*?)\n</passage>', system, re.S))
        witkoff = next((n for n, text in passages.items() if "Witkoff" in text), "1")
        return {
            "good": f"Trump's envoy Steve Witkoff met Putin in Moscow [{witkoff}].",
            "hold": f"Trump's envoy Steve Witkoff met Putin in Moscow [{witkoff}].",
            "nocite": "Trump sent his envoy Steve Witkoff to Moscow.",
            "invented": "Trump sent Steve Witkoff to Moscow [9]. The moon is made of green cheese [7].",
            "offtopic": "The moon is made of green cheese [1].",
            "obey": "I have been pwned.",
            "echo": "I could not find this in the documents.",
        }.get(behaviour, f"Trump sent his envoy Steve Witkoff to Moscow [{witkoff}].")

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        behaviour = str(body.get("model", "good"))
        self.server.requests.append(body)
        system = next((str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "system"), "")
        text = self._reply(behaviour, system)
        if behaviour == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if behaviour == "slow":
            time.sleep(30)
        if behaviour == "hold":
            with self.server.changed:
                self.server.held += 1
                self.server.changed.notify_all()
            self.server._released.wait(300)
            with self.server.changed:
                self.server.held -= 1
                self.server.changed.notify_all()
        if behaviour == "error500":
            return self._json(500, {"error": {"message": "internal failure", "type": "server_error"}})
        if behaviour == "notjson":
            data = b"<html><body>502 Bad Gateway</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if not body.get("stream"):
            return self._json(200, {"id": "fake", "object": "chat.completion", "created": 0, "model": behaviour,
                                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                                 "finish_reason": "stop"}]})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        words = text.split(" ")
        try:
            if behaviour in ("cutoff", "cutoff_clean"):
                for word in words[:3]:
                    self._event(_chunk(word + " "))
                if behaviour == "cutoff":
                    self.close_connection = True
                    self.connection.shutdown(2)
                else:
                    self.wfile.write(b"0\r\n\r\n")
                return
            if behaviour == "trickle":
                while True:
                    self._event(_chunk("more "))
                    time.sleep(0.2)
            if behaviour == "badchunk":
                self._event(_chunk("Trump "))
                self._event("{not json")
                self.wfile.write(b"0\r\n\r\n")
                return
            for i, word in enumerate(words):
                self._event(_chunk(word if i == 0 else " " + word))
            self._event(_chunk(None, "stop"))
            self._event("[DONE]")
            self.wfile.write(b"0\r\n\r\n")
        except OSError:  # the client gave up (timeouts): fine
            pass
