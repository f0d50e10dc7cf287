#!/usr/bin/env python3
"""Overload: drives each generation endpoint of a running adforge server at twice its admission
capacity (running batch + waiting queue) for a bounded time, with the standard library only.

Checked: every refused request is a 429 with Retry-After (or 503 with Retry-After), admitted
requests finish with 200, /health answers throughout (polled every 200 ms), the server's peak
RSS (VmHWM of its pid) stays under --max-rss-mib. Recorded, not asserted: accepted and refused
requests per second and the p50/p99 latency of admitted requests. Prints one JSON report.

  scripts/overload.py --url http://127.0.0.1:8080 --key KEY --pid PID --seconds 15 \
      --capacity chat=24 --capacity embeddings=264 --max-rss-mib 3072
"""

import argparse
import base64
import http.client
import json
import struct
import sys
import threading
import time
import urllib.parse
import zlib


def tiny_png(side=32):
    raw = b"".join(b"\x00" + bytes([(x * 7 + y * 3) % 256 for x in range(side) for _ in range(3)])
                   for y in range(side))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


BODIES = {
    "chat": ("/v1/chat/completions", {"model": "smollm2-135m-instruct", "max_tokens": 16,
             "messages": [{"role": "user", "content": "A slogan for cold brew"}]}),
    "completions": ("/v1/completions", {"model": "smollm2-135m-instruct", "max_tokens": 16,
                    "prompt": "Cold brew is"}),
    "embeddings": ("/v1/embeddings", {"model": "all-minilm-l6-v2", "input": "cold brew coffee"}),
    "upscale": ("/v1/images/upscale", {"image": base64.b64encode(tiny_png()).decode(), "scale": 2}),
    "copy": ("/api/generate/copy", {"product": "Cold brew", "platform": "meta", "n": 1}),
}


def request(base, key, path, body, timeout=120):
    url = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    headers = {"content-type": "application/json"}
    if key:
        headers["authorization"] = f"Bearer {key}"
    start = time.monotonic()
    try:
        conn.request("POST" if body is not None else "GET", path,
                     json.dumps(body) if body is not None else None, headers)
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("retry-after"), time.monotonic() - start
    except OSError as e:
        return 0, str(e), time.monotonic() - start
    finally:
        conn.close()


def peak_rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def drive(args, name, capacity):
    path, body = BODIES[name]
    clients = 2 * capacity
    deadline = time.monotonic() + args.seconds
    lock = threading.Lock()
    stats = {"accepted": 0, "refused": 0, "bad_refusals": [], "errors": [], "latency": []}

    def client():
        while time.monotonic() < deadline:
            status, retry_after, took = request(args.url, args.key, path, body)
            with lock:
                if status == 200:
                    stats["accepted"] += 1
                    stats["latency"].append(took)
                elif status in (429, 503):
                    stats["refused"] += 1
                    if not retry_after:
                        stats["bad_refusals"].append(status)
                    time.sleep(min(float(retry_after or 1), 1.0) * 0.1)
                else:
                    stats["errors"].append(status)

    health = {"polls": 0, "failures": 0}
    stop = threading.Event()

    def poll_health():
        while not stop.is_set():
            status, _, _ = request(args.url, None, "/health", None, timeout=5)
            health["polls"] += 1
            if status != 200:
                health["failures"] += 1
            time.sleep(0.2)

    poller = threading.Thread(target=poll_health)
    poller.start()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    stop.set()
    poller.join()
    lat = sorted(stats["latency"])

    def pct(p):
        return round(lat[min(len(lat) - 1, int(p * len(lat)))], 3) if lat else None
    return {
        "endpoint": path, "capacity": capacity, "clients": clients, "seconds": round(elapsed, 1),
        "accepted_per_s": round(stats["accepted"] / elapsed, 2),
        "refused_per_s": round(stats["refused"] / elapsed, 2),
        "p50_s": pct(0.5), "p99_s": pct(0.99),
        "refusals_without_retry_after": len(stats["bad_refusals"]),
        "other_statuses": sorted(set(stats["errors"])),
        "health_polls": health["polls"], "health_failures": health["failures"],
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--key")
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--capacity", action="append", default=[],
                        help="NAME=N: admission capacity of an endpoint (batch + queue)")
    parser.add_argument("--max-rss-mib", type=float, required=True)
    args = parser.parse_args()
    results = [drive(args, *(lambda n, c: (n, int(c)))(*c.split("="))) for c in args.capacity]
    rss = peak_rss_mib(args.pid)
    report = {"results": results, "peak_rss_mib": rss, "max_rss_mib": args.max_rss_mib}
    print(json.dumps(report, indent=2))
    ok = all(r["refusals_without_retry_after"] == 0 and not r["other_statuses"]
             and r["health_failures"] == 0 and r["accepted_per_s"] > 0 for r in results)
    ok = ok and rss is not None and rss <= args.max_rss_mib
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
