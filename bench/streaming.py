"""What the gateway adds to a streamed answer: time to first byte, and time and CPU per event.

Starts the mock upstream (server-sent events, no delay between them) and a gateway (SQLite) with
two rules: an empty chain, and one whose plugin has a ``response_chunk`` hook (analytics: it
looks into every chunk for the usage). Then, over one keep-alive connection each, sends
REQUESTS streamed chat requests whose answer has about EVENTS events, directly to the mock and
through each rule, and prints per target: time to the first event (p50, p90), time from the
first event to the last per event, and the gateway's CPU per request and per event (/proc).

Usage: python bench/streaming.py [REQUESTS] [EVENTS]      (defaults 300 and 100)
Run with the gateway's python (.venv/bin/python); nothing else should load the machine meanwhile.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MOCK_PORT, ADMIN_PORT, PROXY_PORT = 18130, 18131, 18132
TICK_US = 1_000_000 / os.sysconf("SC_CLK_TCK")


def cpu_us(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_US  # utime + stime


def wait_for(port: int, path: str) -> None:
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
                if sock.recv(12).startswith(b"HTTP/1.1"):
                    return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"nothing answers on port {port}")


def stream_once(sock: socket.socket, request: bytes) -> tuple[float, float, int]:
    """(seconds to the first event, seconds from the first event to the end, events) of one answer."""
    started = time.perf_counter()
    sock.sendall(request)
    data = b""
    first = None
    while not data.endswith(b"0\r\n\r\n"):
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the connection closed mid-answer")
        data += chunk
        if first is None and b"data:" in data:
            first = time.perf_counter()
    ended = time.perf_counter()
    assert first is not None and data.startswith(b"HTTP/1.1 200"), data[:200]
    return first - started, ended - first, data.count(b"data:")


def measure(name: str, port: int, host: str, key: str, requests: int, words: int, gateway_pid: int | None) -> None:
    prompt = " ".join(["word"] * (words - 3))  # the mock answers "You said: <prompt>", a word per event
    body = json.dumps({"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": prompt}]}).encode()
    request = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with socket.create_connection(("127.0.0.1", port)) as sock:
        for _ in range(20):  # warm-up
            stream_once(sock, request)
        before = cpu_us(gateway_pid) if gateway_pid else 0.0
        results = [stream_once(sock, request) for _ in range(requests)]
        spent = cpu_us(gateway_pid) - before if gateway_pid else 0.0
    first = sorted(result[0] for result in results)
    events = results[0][2]
    per_event = statistics.median(result[1] for result in results) / max(1, events - 1)
    cpu = f"{spent / requests:9.0f} {spent / requests / events:9.2f}" if gateway_pid else f"{'-':>9} {'-':>9}"
    print(f"{name:<16} {events:6d} {first[len(first) // 2] * 1000:9.3f} {first[len(first) * 9 // 10] * 1000:9.3f} {per_event * 1e6:10.1f} {cpu}")


def main() -> None:
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    events = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    python = sys.executable
    work = Path(tempfile.mkdtemp(prefix="aiproxy-streaming."))
    (work / "config.yaml").write_text(
        f'server: {{admin_port: {ADMIN_PORT}, proxy_port: {PROXY_PORT}, base_domain: "bench.local"}}\n'
        f'storage: {{path: "{work}/aiproxy.db"}}\nupstream: {{allowed_networks: ["127.0.0.1/32"]}}\n'
    )
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    processes = [
        subprocess.Popen([python, "-m", "aiproxy_core.cli.main", "mock-upstream", "--port", str(MOCK_PORT)], **quiet),  # type: ignore[call-overload]
        subprocess.Popen([python, "-m", "aiproxy_core.cli.main", "serve", "--config", str(work / "config.yaml")], cwd=work, **quiet),  # type: ignore[call-overload]
    ]
    try:
        wait_for(MOCK_PORT, "/v1/models")
        wait_for(ADMIN_PORT, "/healthz")
        rule = json.dumps({"target": f"http://127.0.0.1:{MOCK_PORT}"})
        routes = {}
        for name, chain in (("gateway", "[]"), ("gateway+chunks", '[{"name": "analytics"}]')):
            seeded = subprocess.run(
                [python, str(HERE / "seed_route.py"), f"http://127.0.0.1:{ADMIN_PORT}", chain],
                env={**os.environ, "RULE": rule}, capture_output=True, text=True, check=True,
            ).stdout.split()
            routes[name] = (f"{seeded[0]}.bench.local", seeded[1])
        print(f"{requests} streamed requests per target, one connection; times in ms, per event in µs, gateway CPU in µs")
        print(f"{'target':<16} {'events':>6} {'ttfb p50':>9} {'ttfb p90':>9} {'per event':>10} {'cpu/req':>9} {'cpu/event':>9}")
        measure("direct", MOCK_PORT, "127.0.0.1", "none", requests, events, None)
        for name, (host, key) in routes.items():
            measure(name, PROXY_PORT, host, key, requests, events, processes[1].pid)
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)


if __name__ == "__main__":
    main()
