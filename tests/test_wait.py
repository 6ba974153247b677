"""edgeload.wait and edgeload.http: bounded retries with progress, one-line HTTP failures."""

from __future__ import annotations

import socket
import threading

import pytest

from edgeload.errors import RunError
from edgeload.http import HttpClient, HttpStatusError, TransportError
from edgeload.wait import Wait, is_transient, retry
from tests.fake_endpoint import FakeEndpoint


class FakeClock:
    """Endpoint seconds that pass only when slept: no test sleeps on the wall clock."""

    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_retry_backs_off_says_each_failure_and_returns_once_it_answers():
    with FakeEndpoint({"GET /ping": (503, {"detail": "not ready"})}) as fake:
        client = HttpClient(fake.url)
        clock, lines = FakeClock(), []
        calls = []

        def call():
            calls.append(clock.now())
            if len(calls) == 4:
                fake.routes["GET /ping"] = (200, {"message": "Hello!"})
            return client.get_json("/ping")

        answer = retry(call, what="GET /ping", timeout_s=60, progress=lines.append, clock=clock)
    assert answer == {"message": "Hello!"} and len(calls) == 4 and len(lines) == 3
    assert clock.slept == sorted(clock.slept)  # pauses grow
    assert all("GET /ping answered 503" in line and "retrying" in line for line in lines)


def test_retry_gives_up_at_its_deadline_with_the_last_failure():
    client = HttpClient(f"http://127.0.0.1:{free_port()}", timeout_s=1)
    clock = FakeClock()
    with pytest.raises(RunError) as info:
        retry(
            lambda: client.get_json("/x"), what="GET /x", timeout_s=30, progress=print, clock=clock
        )
    message = str(info.value)
    assert "GET /x kept failing for 30 s" in message and "connection refused" in message
    assert "\n" not in message and clock.t >= 30


def test_retry_raises_a_lasting_failure_at_once():
    with FakeEndpoint({}) as fake:  # 404: waiting does not fix a wrong route
        client = HttpClient(fake.url)
        with pytest.raises(HttpStatusError, match="GET /nope answered 404"):
            retry(lambda: client.get_json("/nope"), what="x", timeout_s=30, progress=print)
        assert fake.hits["GET /nope"] == 1


def test_wait_pause_says_progress_when_due_and_fails_past_its_deadline():
    clock, lines = FakeClock(), []
    wait = Wait(10, progress=lines.append, progress_every_s=4, clock=clock)
    with pytest.raises(RunError, match="training did not finish"):
        for _ in range(1000):
            wait.pause(
                timed_out=lambda: "training did not finish within 10 s",
                lines=lambda left: [f"waiting, {left:.0f} s left"],
            )
    assert 1 <= len(lines) <= 3 and clock.t >= 10


def test_an_endpoint_that_answers_non_http_bytes_is_one_line():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        def serve():
            conn, _ = server.accept()
            conn.recv(1000)
            conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
            conn.close()

        threading.Thread(target=serve, daemon=True).start()
        with pytest.raises(TransportError) as info:
            HttpClient(f"http://127.0.0.1:{port}", timeout_s=5).get_json("/status/metrics.json")
    assert info.value.category == "connection" and "\n" not in str(info.value)
    assert str(info.value).startswith("GET /status/metrics.json:")
    assert is_transient(info.value)
