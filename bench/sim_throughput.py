"""Benchmark: how many image queries per second one simulator process serves.

Starts the simulator (`zero-latency` profile: no service time, ample capacity) in its own
process, creates a BINARY detector, then drives `POST /device-api/v1/image-queries` with
unique pre-generated 640x480 JPEG bodies from a raw keep-alive HTTP client (several client
processes x threads, one connection each; requests are pre-built bytes, so the client stays
cheap). Prints image queries per second overall and per CPU-second of the simulator process
(the figure that does not depend on how much of the machine the client takes).

    uv run python bench/sim_throughput.py [--seconds 5] [--procs 2] [--threads 8] [--no-hint]
        [--json PATH]

`--no-hint` sends images without the edgeload truth comment, so the simulator decodes every
image (the slow path). Everything runs on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import psutil  # noqa: E402
from _figures import add_json_option, figure, write_figures  # noqa: E402
from PIL import Image  # noqa: E402

from edgeload.sim import DEMO_TOKEN, SimulatedEndpoint  # noqa: E402
from edgeload.sim.answers import hint_comment  # noqa: E402

TARGET_IQ_PER_S = 2000


def make_images(n: int, hint: bool, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        bright = i % 2 == 0
        base = 200 if bright else 50
        pixels = rng.integers(base - 8, base + 8, (480, 640, 3), dtype=np.int16).clip(0, 255)
        buf = io.BytesIO()
        kwargs = (
            {"comment": hint_comment(label="NO" if bright else "YES", clarity=0.9)} if hint else {}
        )
        Image.fromarray(pixels.astype(np.uint8)).save(buf, "JPEG", quality=85, **kwargs)
        out.append(buf.getvalue())
    return out


def build_requests(host: str, port: int, detector_id: str, images: list[bytes]) -> list[bytes]:
    head = (
        f"POST /device-api/v1/image-queries?detector_id={detector_id}&want_async=False HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\nx-api-token: {DEMO_TOKEN}\r\nContent-Type: image/jpeg\r\n"
    )
    return [(head + f"Content-Length: {len(img)}\r\n\r\n").encode() + img for img in images]


def read_response(sock: socket.socket, buf: bytearray) -> int:
    """Read one response from the keep-alive socket; returns its status."""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            break
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    head = bytes(buf[:end]).lower()
    status = int(head[9:12])
    pos = head.find(b"content-length:")
    length = int(head[pos + 15 : head.find(b"\r\n", pos) if head.find(b"\r\n", pos) > 0 else None])
    need = end + 4 + length
    while len(buf) < need:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    del buf[:need]
    return status


def client_process(host, port, requests, threads, start_at, stop_at, results) -> None:
    counts = []

    def loop(offset: int) -> None:
        sock = socket.create_connection((host, port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = bytearray()
        ok = bad = 0
        i = offset
        while time.time() < start_at:
            time.sleep(0.001)
        while time.time() < stop_at:
            sock.sendall(requests[i % len(requests)])
            i += 1
            if read_response(sock, buf) == 200:
                ok += 1
            else:
                bad += 1
        sock.close()
        counts.append((ok, bad))

    workers = [threading.Thread(target=loop, args=(k * 7,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    results.put((sum(c[0] for c in counts), sum(c[1] for c in counts)))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="measured duration (default 5)")
    parser.add_argument("--procs", type=int, default=2, help="client processes (default 2)")
    parser.add_argument(
        "--threads", type=int, default=8, help="connections per client process (default 8)"
    )
    parser.add_argument("--images", type=int, default=64, help="distinct JPEG bodies (default 64)")
    parser.add_argument("--no-hint", action="store_true", help="images without the truth comment")
    add_json_option(parser)
    return parser.parse_args()


@dataclass
class Measurement:
    ok: int  # image queries answered 200 within the measured window
    bad: int
    sim_cpu_s: float  # user + system CPU time of the simulator process over the window
    edge_answers: int  # the simulator's count, warm-up included


def measure(sim: SimulatedEndpoint, images: list[bytes], args: argparse.Namespace) -> Measurement:
    """Drive the simulator from `args.procs` client processes for `args.seconds`, after a
    short warm-up, and read the simulator process's CPU time around the measured window."""
    host, port_text = sim.url.removeprefix("http://").split(":")
    port = int(port_text)
    detector = _create_detector(host, port)
    requests = build_requests(host, port, detector, images)
    sim_proc = psutil.Process(sim.pid)
    # warm up: pods come up at once in this profile; one round of requests first
    ctx = mp.get_context("fork")
    results = ctx.Queue()
    warm = time.time()
    client_process(host, port, requests, 1, warm, warm + 0.5, results)
    results.get()
    start_at = time.time() + 0.5
    stop_at = start_at + args.seconds
    procs = [
        ctx.Process(
            target=client_process,
            args=(host, port, requests, args.threads, start_at, stop_at, results),
        )
        for _ in range(args.procs)
    ]
    for p in procs:
        p.start()
    while time.time() < start_at:
        time.sleep(0.001)
    cpu0 = sim_proc.cpu_times()
    time.sleep(max(0.0, stop_at - time.time()))
    cpu1 = sim_proc.cpu_times()
    totals = [results.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    return Measurement(
        ok=sum(t[0] for t in totals),
        bad=sum(t[1] for t in totals),
        sim_cpu_s=(cpu1.user - cpu0.user) + (cpu1.system - cpu0.system),
        edge_answers=sim.state()["edge_app_counters"]["edge_answers"],
    )


def report(args: argparse.Namespace, images: list[bytes], m: Measurement) -> None:
    """Print the figures and write them as JSON when asked."""
    avg_kb = sum(map(len, images)) / len(images) / 1024
    rate = m.ok / args.seconds
    per_cpu = m.ok / m.sim_cpu_s if m.sim_cpu_s > 0 else float("nan")
    print(
        f"simulator throughput (profile zero-latency, {len(images)} unique 640x480 JPEGs, "
        f"avg {avg_kb:.1f} KiB, truth comment: {'no' if args.no_hint else 'yes'})"
    )
    conns = f"{args.procs} processes x {args.threads} keep-alive connections"
    print(f"  clients: {conns}, {args.seconds:g} s")
    print(f"  image queries: {m.ok} ok, {m.bad} not ok ({m.edge_answers} edge answers in total)")
    print(f"  image queries/s:              {rate:8.0f}   (target >= {TARGET_IQ_PER_S})")
    core_pct = 100 * m.sim_cpu_s / args.seconds
    print(f"  simulator CPU:                {m.sim_cpu_s:8.2f} s  ({core_pct:.0f}% of one core)")
    print(f"  image queries per CPU-second: {per_cpu:8.0f}   (simulator process only)")
    verdict = "MET" if rate >= TARGET_IQ_PER_S else "NOT MET"
    print(f"  machine: {os.cpu_count()} CPUs; target {verdict}")
    write_figures(
        args.json,
        "sim_throughput",
        [
            figure(
                "simulator image queries/s (640x480 JPEG)",
                rate,
                "1/s",
                f">= {TARGET_IQ_PER_S}",
                rate >= TARGET_IQ_PER_S,
            ),
            figure("simulator image queries per CPU-second", per_cpu, "1/CPU-s"),
            figure("image queries not ok", m.bad, "count", "== 0", m.bad == 0),
        ],
        [f"{conns}, {args.seconds:g} s", f"machine: {os.cpu_count()} CPUs"],
    )


def main() -> int:
    args = parse_args()
    images = make_images(args.images, hint=not args.no_hint, seed=1)
    with SimulatedEndpoint("zero-latency") as sim:
        measurement = measure(sim, images, args)
    report(args, images, measurement)
    return 0


def _call(host: str, port: int, method: str, path: str, body: object = None) -> object:
    import http.client

    conn = http.client.HTTPConnection(host, port, timeout=10)
    data = json.dumps(body) if body is not None else None
    headers = {"Content-Type": "application/json", "x-api-token": DEMO_TOKEN}
    conn.request(method, path, body=data, headers=headers)
    answer = json.loads(conn.getresponse().read())
    conn.close()
    return answer


def _create_detector(host: str, port: int) -> str:
    """A detector whose edge config makes every answer an edge answer, with its pod Ready."""
    det = _call(
        host, port, "POST", "/device-api/v1/detectors", {"name": "bench", "query": "Is it bright?"}
    )
    config = {
        "global_config": {"refresh_rate": 60},
        "edge_inference_configs": {
            "no_cloud": {"always_return_edge_prediction": True, "disable_cloud_escalation": True}
        },
        "detectors": [{"detector_id": det["id"], "edge_inference_config": "no_cloud"}],
    }
    _call(host, port, "PUT", "/edge-config", config)
    deadline = time.time() + 30
    while not _call(host, port, "GET", "/edge-detector-readiness")[det["id"]]["ready"]:
        if time.time() > deadline:
            raise SystemExit("bench: the detector's pod did not become ready")
        time.sleep(0.05)
    return det["id"]


if __name__ == "__main__":
    sys.exit(main())
