#!/usr/bin/env python3
"""The device path's benchmark: frame-to-SSE latency, and the edge agent's frames per second.

1. Latency. A Mosquitto broker on loopback, `vsearch serve --mqtt` on a catalogue of the demo
   photos, an SSE client on /api/v1/matches/stream, and `vsearch edge --realtime` on a video
   ffmpeg makes from those photos (camera-like: rotation, zoom, colour shift, noise), at 5 and
   30 frames/s, every frame published (--dedup-threshold 1.1). For each event: SSE arrival time
   minus the frame's captured_at (same clock: one machine). Reports p50, p99 and max.
2. Throughput. `vsearch edge` on the same video, not paced (every frame, as fast as it can), and
   beside it the same frames (ffmpeg's JPEG pipe) decoded and preprocessed with Pillow and run
   through ONNX Runtime with the same number of threads, no MQTT. Reports frames/s and the ratio.

Usage: scripts/bench/edge.py [--bin .build/release] [--seconds 20] [--threads 2] [--repeat 2]
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PHOTOS = ["skimage/coffee.png", "mate/Aqua.jpg", "skimage/chelsea.png", "mate/LadyBird.jpg", "skimage/astronaut.png",
          "skimage/rocket.jpg", "mate/Wood.jpg", "mate/Storm.jpg", "mate/Garden.jpg", "skimage/motorcycle_left.png"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, process, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            sys.exit(f"{process.args[0]} exited early")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on {port}")


def make_video(photos, seconds_each, fps, path):
    args = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"]
    for photo in photos:
        args += ["-loop", "1", "-framerate", str(fps), "-t", str(seconds_each), "-i", str(photo)]
    graph = "".join(f"[{i}:v]scale=640:480:force_original_aspect_ratio=increase,crop=640:480,setsar=1,"
                    f"format=yuv420p[v{i}];" for i in range(len(photos)))
    graph += "".join(f"[v{i}]" for i in range(len(photos))) + f"concat=n={len(photos)}:v=1:a=0,"
    graph += "rotate=3*PI/180,scale=iw*1.1:ih*1.1,crop=640:480,"
    graph += "eq=brightness=-0.04:contrast=1.08:saturation=0.9:gamma_r=1.05,noise=alls=5:allf=t[out]"
    args += ["-filter_complex", graph, "-map", "[out]", "-r", str(fps), "-c:v", "libx264", "-crf", "26",
             "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(args, check=True)


class SSE(threading.Thread):
    def __init__(self, port):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall(b"GET /api/v1/matches/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        self.events = []
        self.start()
        time.sleep(0.3)

    def run(self):
        pending = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            now = time.time()
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                if line.startswith(b"data: "):
                    self.events.append((now, json.loads(line[6:])))

    def close(self):
        self.sock.close()


def iso(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def percentile(values, p):
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def latency_run(binary, env, broker, port, video, fps):
    sse = SSE(port)
    started = len(sse.events)
    edge = subprocess.run([binary, "edge", "--mqtt", broker, "--topic", "devices/bench/features", "--realtime",
                           "--fps", str(fps), "--dedup-threshold", "1.1", "--thumbnail", "--json-summary", str(video)],
                          env=env, capture_output=True, text=True)
    if edge.returncode != 0:
        sys.exit(edge.stderr)
    summary = json.loads(edge.stdout)
    time.sleep(1)
    sse.close()
    events = sse.events[started:]
    frame_to_sse = [(arrival - iso(e["captured_at"])) * 1000 for arrival, e in events if e.get("captured_at")]
    in_event = [e["latency_ms"] for _, e in events if e.get("latency_ms") is not None]
    return summary, frame_to_sse, in_event


def ort_fps(model_dir, video, threads, fps):
    """The same frames through Pillow + ONNX Runtime, as a Python edge agent would do it."""
    import io

    import numpy as np
    import onnxruntime as ort
    from PIL import Image

    spec = json.loads((model_dir / "model.json").read_text())
    inp = spec["input"]
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(model_dir / "model.onnx"), options, providers=["CPUExecutionProvider"])
    short = inp.get("resizeShortSide") or 256
    ffmpeg = subprocess.Popen(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-i", str(video), "-an",
                               "-vf", f"fps={fps},scale={short}:{short}:force_original_aspect_ratio=increase",
                               "-f", "image2pipe", "-c:v", "mjpeg", "-q:v", "4", "-pix_fmt", "yuvj420p", "pipe:1"],
                              stdout=subprocess.PIPE)
    started = time.time()
    frames = 0
    data = ffmpeg.stdout.read()
    # ffmpeg's MJPEG frames hold no embedded thumbnails, so an end marker ends a frame.
    for part in data.split(b"\xff\xd9"):
        if not part.startswith(b"\xff\xd8"):
            continue
        image = Image.open(io.BytesIO(part + b"\xff\xd9")).convert("RGB")
        w, h = image.size
        scale = short / min(w, h)
        image = image.resize((round(w * scale), round(h * scale)), Image.BILINEAR)
        w, h = image.size
        left, top = (w - inp["width"]) // 2, (h - inp["height"]) // 2
        image = image.crop((left, top, left + inp["width"], top + inp["height"]))
        x = (np.asarray(image, np.float32) - np.float32(inp["mean"])) / np.float32(inp["std"])
        session.run([spec["feature"]["output"]], {inp["name"]: x.transpose(2, 0, 1)[None].copy()})
        frames += 1
    ffmpeg.wait()
    return frames / (time.time() - started), frames


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=str(ROOT / ".build/release"))
    parser.add_argument("--model", default=str(ROOT / "models/efficientnet-lite0"))
    parser.add_argument("--seconds", type=float, default=20, help="video length")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    binary = str(Path(args.bin) / "vsearch")
    model_dir = Path(args.model)
    for tool in ("ffmpeg", "mosquitto"):
        if not shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin"):
            sys.exit(f"{tool} is not installed: bash scripts/install-deps.sh")
    if not Path(binary).exists():
        sys.exit(f"no {binary}: swift build -c release")
    photos = [ROOT / "data/photos" / p for p in PHOTOS]
    if not all(p.exists() for p in photos):
        sys.exit("photos missing: bash scripts/fetch-photos.sh")
    env = dict(os.environ, VSEARCH_MODEL=str(model_dir))
    work = Path(tempfile.mkdtemp(prefix="vsearch-edge-bench-"))
    processes = []
    try:
        catalogue = work / "photos"
        catalogue.mkdir()
        for p in photos:
            shutil.copy(p, catalogue / p.name)
        subprocess.run([binary, "ingest", "--store", str(work / "store"), str(catalogue)], env=env, check=True,
                       capture_output=True)
        video = work / "video.mp4"
        make_video(photos, args.seconds / len(photos), 30, video)

        broker_port = free_port()
        (work / "mosquitto.conf").write_text(f"listener {broker_port} 127.0.0.1\nallow_anonymous true\n")
        mosquitto = shutil.which("mosquitto", path=os.environ.get("PATH", "") + ":/usr/sbin")
        broker = subprocess.Popen([mosquitto, "-c", str(work / "mosquitto.conf")], stderr=subprocess.DEVNULL)
        processes.append(broker)
        wait_port(broker_port, broker)
        broker_url = f"mqtt://127.0.0.1:{broker_port}"
        http_port = free_port()
        server = subprocess.Popen([binary, "serve", "--store", str(work / "store"), "--port", str(http_port),
                                   "--mqtt", broker_url], env=env, stderr=subprocess.DEVNULL)
        processes.append(server)
        wait_port(http_port, server)

        print(f"Frame-to-SSE latency (broker on loopback, {args.seconds:.0f} s video, every frame published):")
        print(f"{'fps':>4} {'events':>7} {'dropped':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'hub p50':>8}")
        for fps in (5, 30):
            best = None
            for _ in range(args.repeat):
                summary, lat, hub = latency_run(binary, env, broker_url, http_port, video, fps)
                if lat and (best is None or percentile(lat, 99) < percentile(best[1], 99)):
                    best = (summary, lat, hub)
            summary, lat, hub = best
            print(f"{fps:>4} {len(lat):>7} {summary['dropped_late']:>8} {percentile(lat, 50):>8.1f} "
                  f"{percentile(lat, 99):>8.1f} {max(lat):>8.1f} {statistics.median(hub):>8.1f}")

        server.send_signal(signal.SIGKILL)
        print(f"\nEdge agent throughput ({args.threads} threads, every frame of the video at 30 fps, not paced):")
        swift_best = ort_best = 0.0
        for _ in range(args.repeat):
            run = subprocess.run([binary, "edge", "--mqtt", broker_url, "--topic", "devices/bench/features",
                                  "--fps", "30", "--threads", str(args.threads), "--dedup-threshold", "1.1",
                                  "--json-summary", str(video)], env=env, capture_output=True, text=True)
            if run.returncode != 0:
                sys.exit(run.stderr)
            swift_best = max(swift_best, json.loads(run.stdout)["fps"])
            ort_best = max(ort_best, ort_fps(model_dir, video, args.threads, 30)[0])
        print(f"  vsearch edge (decode + featurize + publish):        {swift_best:6.1f} frames/s")
        print(f"  Pillow + onnxruntime (decode + featurize, no MQTT): {ort_best:6.1f} frames/s")
        print(f"  ratio vsearch / onnxruntime: {swift_best / ort_best:.2f}")
    finally:
        for p in processes:
            p.kill()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
