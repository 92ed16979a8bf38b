#!/usr/bin/env bash
# Installs every Debian package opsis needs to build, run and test. Idempotent.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libtorch-dev libopenblas0-pthread
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev
  libespeak-ng-dev espeak-ng-data
  libcpp-httplib-dev nlohmann-json3-dev libcli11-dev
  libsqlite3-dev libssl-dev openssl
  sqlite3  # tests/api/cameos.test.mjs ages a liveness challenge in the database
  libargon2-dev  # the app's password hashes (argon2id)
  # Cameo enrollment recordings checked locally (src/cameo/recording_check.hpp): PocketSphinx
  # and its US English model hear the phrase; OpenCV's objdetect (only it, imgproc and core:
  # not the whole libopencv-dev) with opencv-data's Haar cascades sees the face.
  libpocketsphinx-dev libsphinxbase-dev pocketsphinx-en-us
  libopencv-objdetect-dev libopencv-imgproc-dev libopencv-core-dev opencv-data
  # Their tests' media: espeak-ng and ffmpeg make recordings of python3-skimage's astronaut photo.
  espeak-ng ffmpeg python3-skimage
  libpng-dev libjpeg-dev libwebp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang  # libFuzzer, ASan and UBSan for the fuzz targets (fuzz/, scripts/fuzz.sh)
  chromium
)
# Node.js: the machine image ships nodesource's nodejs (which bundles npm and conflicts
# with Debian's npm package); install Debian's only where no node is present.
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  echo "opsis setup: installing ${missing[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "opsis setup: system packages present"
