#!/usr/bin/env python3
"""Soak and kill test of `vsearch serve`: mixed load on loopback, a kill -9 in the middle, then checks.

Run before a release, not in CI (it takes --minutes, 10 by default, plus building the catalogue once).

1. Builds (once, then reused from --work) a 10,000-item catalogue: hard links of the photos in
   data/photos (every item its own file and id, `vsearch ingest` computes every vector), and
   copies it for this run, so the run's writes and its kill never touch the template.
2. Starts Mosquitto on a free loopback port and `vsearch serve --mqtt` (release build) on the copy.
3. For --minutes, threads on loopback do, all at once:
   - image uploads to /api/v1/search (raw JPEG) and vector searches (JSON);
   - SSE clients that connect to /api/v1/matches/stream, read for 0.5-4 s and go away;
   - item writes: multipart creates (each acknowledged id recorded), PATCHes and DELETEs of
     items this run created;
   - an MQTT flood through mosquitto_pub: valid feature messages and bad ones (not JSON, binary,
     wrong dimension, NaN, oversized).
   Halfway, the server is killed with SIGKILL and started again on the same store; the load goes on.
4. Checks and prints: no 5xx answer at any time; the server never died except by our kill; every
   write acknowledged before the kill (and after it) is there afterwards (created items present
   with a vector, deleted ones gone); and resident memory sampled every few seconds (the curve is
   printed), which must be flat after warm-up: the last quarter's median within --rss-growth
   (default 25 %) of the median of the second quarter of the same server process.

Exit status 0 when every check passes.

Usage: scripts/soak.py [--minutes 10] [--items 10000] [--work DIR] [--no-build] [--port 18090]
"""

import argparse
import base64
import http.client
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts" / "bench"))
from serve import bin_dir, default_to_plain_model, photos  # noqa: E402  (the server benchmark's binary and photo lookup)

API_KEY = "soak-" + uuid.uuid4().hex
REFUSED = -1  # what a request gets when the server is not listening


def fail(message):
    sys.exit(f"soak.py: {message}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_catalogue(work, vsearch, count):
    """A store of `count` items whose images are hard links of the photos; reused when complete."""
    store = work / f"store-{count}"
    if (store / "complete").exists():
        print(f"catalogue: reusing {store}", flush=True)
        return store
    images = work / f"items-{count}"
    images.mkdir(parents=True, exist_ok=True)
    sources = photos()
    for i in range(count):
        source = sources[i % len(sources)]
        path = images / f"item{i:05d}{source.suffix.lower()}"
        if not path.exists():
            os.link(source, path)
    print(f"catalogue: vsearch ingest of {count} hard-linked photos", flush=True)
    started = time.perf_counter()
    subprocess.run([str(vsearch), "ingest", "--store", str(store), str(images)], check=True,
                   stdout=subprocess.DEVNULL)
    print(f"catalogue: ingested in {time.perf_counter() - started:.0f} s", flush=True)
    (store / "complete").write_text("ok\n")
    return store


class Tally:
    """Everything the workers saw, under one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.server_errors = []
        self.created = {}  # id -> time acknowledged
        self.deleted = {}  # id -> time acknowledged
        # Deletes whose answer was lost (the server was killed meanwhile): the item may be gone or not.
        self.uncertain = set()

    def count(self, kind, status):
        with self.lock:
            key = f"{kind} {status}"
            self.counts[key] = self.counts.get(key, 0) + 1
            if isinstance(status, int) and status >= 500:
                self.server_errors.append(key)


class Server:
    def __init__(self, vsearch, store, port, broker_port, key_file, log):
        self.command = [str(vsearch), "serve", "--store", str(store), "--port", str(port),
                        "--api-key-file", str(key_file), "--mqtt", f"mqtt://127.0.0.1:{broker_port}"]
        self.port = port
        self.log = log
        self.process = None
        self.killed_by_us = False

    def start(self):
        self.killed_by_us = False
        self.process = subprocess.Popen(self.command, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 180
        while time.time() < deadline:
            if self.process.poll() is not None:
                fail(f"vsearch serve exited with {self.process.returncode}; see {self.log.name}")
            try:
                status, _ = request(self.port, "GET", "/healthz")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        fail("vsearch serve did not become healthy in 180 s")

    def kill(self):
        self.killed_by_us = True
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def rss_kib(self):
        try:
            with open(f"/proc/{self.process.pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None


def request(port, method, path, body=None, headers=None, timeout=60):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def multipart(fields, image):
    boundary = "soak" + uuid.uuid4().hex
    parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n".encode()
             for k, v in fields.items()]
    parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.jpg\"\r\n"
                 "Content-Type: application/octet-stream\r\n\r\n".encode() + image + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def run(args):
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    vsearch = bin_dir(args.no_build) / "vsearch"
    template = build_catalogue(work, vsearch, args.items)
    run_dir = Path(tempfile.mkdtemp(prefix="vsearch-soak-"))
    store = run_dir / "store"
    shutil.copytree(template, store)
    key_file = run_dir / "api-key"
    key_file.write_text(API_KEY + "\n")
    images = [p.read_bytes() for p in photos() if p.suffix.lower() in (".jpg", ".jpeg")]
    embedded = subprocess.run([str(vsearch), "embed", *map(str, photos()[:8])], check=True, capture_output=True,
                              text=True).stdout.splitlines()
    vectors = [json.loads(line)["vector"] for line in embedded]
    dimension = len(vectors[0])

    broker_port = free_port()
    (run_dir / "mosquitto.conf").write_text(
        f"listener {broker_port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    broker = subprocess.Popen(["mosquitto", "-c", str(run_dir / "mosquitto.conf")], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    log = open(run_dir / "serve.log", "wb")
    server = Server(vsearch, store, args.port, broker_port, key_file, log)
    server.start()
    print(f"soak: serving {store} on 127.0.0.1:{args.port}, broker :{broker_port}, log {log.name}", flush=True)

    tally = Tally()
    stop = threading.Event()
    down = threading.Event()  # set while the server is being killed and restarted
    auth = {"Authorization": f"Bearer {API_KEY}"}

    def guarded(kind, call):
        try:
            status = call()
        except (OSError, http.client.HTTPException) as error:
            # Refused or cut connections are expected only while we kill and restart the server.
            tally.count(kind, "down" if down.is_set() else f"error {type(error).__name__}")
            time.sleep(0.2)
            # A refused connection never reached the server; a cut one may have been carried out.
            return REFUSED if isinstance(error, ConnectionRefusedError) else None
        tally.count(kind, status)
        return status

    def uploads(rng):
        while not stop.is_set():
            body = rng.choice(images)
            guarded("upload", lambda: request(args.port, "POST", "/api/v1/search?k=4", body,
                                              {"Content-Type": "image/jpeg"})[0])

    def vector_searches(rng):
        while not stop.is_set():
            body = json.dumps({"vector": rng.choice(vectors), "k": 8}).encode()
            guarded("vector", lambda: request(args.port, "POST", "/api/v1/search", body,
                                              {"Content-Type": "application/json"})[0])

    def sse_clients(rng):
        while not stop.is_set():
            def one():
                connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
                try:
                    connection.request("GET", "/api/v1/matches/stream")
                    response = connection.getresponse()
                    until = time.time() + rng.uniform(0.5, 4)
                    while time.time() < until and not stop.is_set():
                        if not response.fp.readline():
                            break
                    return response.status
                finally:
                    connection.close()
            guarded("sse", one)

    def item_writes(rng, worker):
        mine = []
        n = 0
        while not stop.is_set():
            choice = rng.random()
            if choice < 0.6 or not mine:
                item_id = f"soak-{worker}-{n}"
                n += 1
                body, content_type = multipart({"id": item_id, "title": f"Soak {item_id}"}, rng.choice(images))
                status = guarded("create", lambda: request(args.port, "POST", "/api/v1/items", body,
                                                           {**auth, "Content-Type": content_type})[0])
                if status == 201:
                    with tally.lock:
                        tally.created[item_id] = time.time()
                    mine.append(item_id)
            elif choice < 0.8:
                item_id = rng.choice(mine)
                body = json.dumps({"title": f"Patched {item_id}"}).encode()
                guarded("patch", lambda: request(args.port, "PATCH", f"/api/v1/items/{item_id}", body,
                                                 {**auth, "Content-Type": "application/json"})[0])
            else:
                item_id = mine.pop(rng.randrange(len(mine)))
                status = guarded("delete", lambda: request(args.port, "DELETE", f"/api/v1/items/{item_id}",
                                                           headers=auth)[0])
                if status == 204:
                    with tally.lock:
                        tally.deleted[item_id] = time.time()
                elif status == REFUSED:
                    mine.append(item_id)  # never reached the server: still there, delete it later
                elif status is None:
                    with tally.lock:
                        tally.uncertain.add(item_id)  # it may be gone or not; it is not checked

    def mqtt_flood(rng):
        good = [json.dumps({"features": ",".join(f"{x:.6f}" for x in v)}) for v in vectors]
        bad = ["not json", "{\"features\": \"1,2,3\"}", json.dumps({"features": ",".join(["nan"] * dimension)}),
               "{\"v\":1,\"dim\":99999999,\"features_f16\":\"AAAA\"}", base64.b64encode(os.urandom(64)).decode(),
               "{" * 5000]
        publisher = subprocess.Popen(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker_port), "-t",
                                      "devices/soak-cam/features", "-l"], stdin=subprocess.PIPE, text=True)
        sent = {"good": 0, "bad": 0}
        while not stop.is_set():
            kind = "bad" if rng.random() < 0.4 else "good"
            line = rng.choice(bad if kind == "bad" else good)
            try:
                publisher.stdin.write(line.replace("\n", " ") + "\n")
                publisher.stdin.flush()
            except BrokenPipeError:
                break
            sent[kind] += 1
            time.sleep(1 / args.mqtt_rate)
        publisher.stdin.close()
        publisher.wait()
        with tally.lock:
            tally.counts["mqtt sent good"] = sent["good"]
            tally.counts["mqtt sent bad"] = sent["bad"]

    rng = random.Random(11)
    threads = [threading.Thread(target=uploads, args=(random.Random(rng.random()),)) for _ in range(3)]
    threads += [threading.Thread(target=vector_searches, args=(random.Random(rng.random()),)) for _ in range(3)]
    threads += [threading.Thread(target=sse_clients, args=(random.Random(rng.random()),)) for _ in range(4)]
    threads += [threading.Thread(target=item_writes, args=(random.Random(rng.random()), w)) for w in range(3)]
    threads += [threading.Thread(target=mqtt_flood, args=(random.Random(rng.random()),))]
    for thread in threads:
        thread.start()

    duration = args.minutes * 60
    started = time.time()
    kill_at = started + duration / 2
    rss = {0: [], 1: []}  # per server life: (seconds since start, MiB)
    life = 0
    crashed = False
    acknowledged_before_kill = None
    while time.time() - started < duration:
        time.sleep(args.sample_seconds)
        if server.process.poll() is not None and not server.killed_by_us:
            crashed = True
            print(f"soak: vsearch serve died by itself with {server.process.returncode}", flush=True)
            break
        value = server.rss_kib()
        if value is not None:
            rss[life].append((time.time() - started, value / 1024))
            print(f"  t={time.time() - started:6.0f}s  rss={value / 1024:7.1f} MiB", flush=True)
        if life == 0 and time.time() >= kill_at:
            with tally.lock:
                acknowledged_before_kill = (dict(tally.created), dict(tally.deleted))
            down.set()
            server.kill()
            print("soak: kill -9 of vsearch serve; restarting on the same store", flush=True)
            server.start()
            down.clear()
            life = 1
    stop.set()
    for thread in threads:
        thread.join(timeout=30)

    # Every acknowledged write must have survived: created items present (with a vector), deleted gone.
    missing, resurrected, no_vector = [], [], []
    created, deleted = dict(tally.created), dict(tally.deleted)
    for item_id in created:
        if item_id in tally.uncertain and item_id not in deleted:
            continue
        status, body = request(args.port, "GET", f"/api/v1/items/{item_id}")
        if item_id in deleted:
            if status != 404:
                resurrected.append(item_id)
        elif status != 200:
            missing.append(item_id)
        elif json.loads(body).get("state") != "ready":
            no_vector.append(item_id)
    before_kill_checked = 0
    if acknowledged_before_kill:
        before_kill_checked = len(acknowledged_before_kill[0]) + len(acknowledged_before_kill[1])

    server.process.send_signal(signal.SIGINT)
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
    broker.kill()
    log.close()

    print("\nsoak: requests by kind and answer:")
    for key in sorted(tally.counts):
        print(f"  {key}: {tally.counts[key]}")
    print(f"soak: {len(created)} items created and acknowledged, {len(deleted)} deleted; "
          f"{before_kill_checked} of those writes were acknowledged before the kill")
    verdicts = []

    def check(ok, text):
        verdicts.append(ok)
        print(f"  [{'ok' if ok else 'FAIL'}] {text}")

    print("soak: resident memory (MiB) per server life, sampled every "
          f"{args.sample_seconds} s; flat means last quarter within {args.rss_growth:.0%} of the second quarter")
    flat = True
    for number, samples in rss.items():
        if len(samples) < 8:
            continue
        values = [v for _, v in samples]
        quarter = len(values) // 4
        warm, last = statistics.median(values[quarter:2 * quarter]), statistics.median(values[-quarter:])
        growth = (last - warm) / warm
        flat &= growth <= args.rss_growth
        curve = " ".join(f"{v:.0f}" for v in values)
        print(f"  life {number + 1}: warm {warm:.0f} → last {last:.0f} MiB ({growth:+.1%}): {curve}")
    check(not tally.server_errors, f"no 5xx answers ({len(tally.server_errors)} seen)")
    check(not crashed, "the server never died except by our kill -9")
    check(not missing and not no_vector and not resurrected,
          f"every acknowledged write survived the kill: {len(missing)} missing {missing[:5]}, {len(no_vector)} "
          f"without a vector, {len(resurrected)} deleted but back ({len(tally.uncertain)} items with a delete "
          "whose answer was lost are not checked)")
    check(flat, "resident memory flat after warm-up")
    print(f"soak: run directory {run_dir}")
    return 0 if all(verdicts) else 1


def main():
    default_to_plain_model()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--items", type=int, default=10000)
    parser.add_argument("--port", type=int, default=18090)
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "vsearch-soak"))
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--mqtt-rate", type=float, default=50, help="MQTT messages per second")
    parser.add_argument("--sample-seconds", type=float, default=5)
    parser.add_argument("--rss-growth", type=float, default=0.25)
    sys.exit(run(parser.parse_args()))


if __name__ == "__main__":
    main()
