"""Server processes started on 127.0.0.1 (the local llama.cpp server, and those benchmarks and tests start): a free
port to start one on, and stopping one."""

import socket
import subprocess


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_server(process: subprocess.Popen, grace: float = 15.0) -> None:
    """End a server process: ask it to stop, and kill it if it has not within `grace` seconds."""
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
