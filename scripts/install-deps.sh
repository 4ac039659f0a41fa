#!/usr/bin/env bash
# Installs what vsearch needs on Debian 12: the C libraries it links, the tools
# its tests use, and a Python virtual environment for model preparation and
# test oracles. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
    libjpeg62-turbo-dev libpng-dev libwebp-dev   # image decoding
    libdnnl-dev libopenblas-dev                  # CNN and GEMM kernels
    libmosquitto-dev mosquitto mosquitto-clients # MQTT: the client library, and the broker tests run
    ffmpeg                                       # vsearch edge's frame sources
    imagemagick mate-backgrounds                 # test images and demo photos
    chromium                                     # the web UI's real-browser test (Tests/BrowserTests)
    libjs-angularjs                              # AngularJS 1.x for the original page's browser test
    wrk                                          # the server load benchmark (scripts/bench/serve.py)
    python3 python3-venv python3-pip unzip curl
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "==> apt-get install ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

bash scripts/python-env.sh
