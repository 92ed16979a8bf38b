#!/usr/bin/env bash
# Dev-only (CI never runs it): builds the Debian 13 (trixie) chroot in which the LTX-2
# reference (github.com/Lightricks/LTX-2, read-only, never copied into opsis) runs to make
# the parity goldens under tests/parity/ltx2/golden/. Debian 12's PyTorch is too old for it.
# Idempotent: an existing chroot is reused and only missing packages are added.
#   scripts/ltx2-reference-env.sh                    build or update the chroot
#   scripts/ltx2-reference-env.sh exec DIR... -- CMD  run CMD in it (python3 ...), with /proc and
#                                                    each DIR bind-mounted at the same path
# The chroot lives in $OPSIS_LTX2_CHROOT (default /work/chroots/trixie).
# Needs root (plain chroot) and debootstrap (installed here when missing).
set -euo pipefail
root=${OPSIS_LTX2_CHROOT:-/work/chroots/trixie}

if [ "${1:-}" = exec ]; then
  shift
  [ -x "$root/usr/bin/python3" ] || { echo "ltx2-reference-env: no chroot at $root; run $0 first" >&2; exit 1; }
  dirs=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do dirs+=("$(realpath "$1")"); shift; done
  [ "${1:-}" = -- ] && shift
  mounted=()
  cleanup() { for ((i=${#mounted[@]}-1; i>=0; i--)); do umount "${mounted[$i]}" || true; done; }
  trap cleanup EXIT
  mountpoint -q "$root/proc" || { mount -t proc proc "$root/proc"; mounted+=("$root/proc"); }
  for d in "${dirs[@]}"; do
    mkdir -p "$root$d"
    mountpoint -q "$root$d" || { mount --bind "$d" "$root$d"; mounted+=("$root$d"); }
  done
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" "$@"
  exit $?
fi
# The mirror apt already uses on this host (deb822 or one-line sources), else Debian's own.
mirror=$(grep -rhoE '(URIs:[[:space:]]*|^deb[[:space:]]+)https?://[^[:space:]]+/debian([[:space:]]|$)' \
           /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
         | grep -oE 'https?://[^[:space:]]+' | head -1 || true)
mirror=${mirror:-http://deb.debian.org/debian}
required=(python3 python3-torch python3-safetensors python3-einops python3-sentencepiece python3-numpy)
# Used when trixie has them (scipy, torchaudio, tqdm: the reference imports them; pil: gemma_pytorch);
# the harness shims what is missing (transformers is not in trixie).
optional=(python3-scipy python3-torchaudio python3-tqdm python3-pil python3-transformers)

[ "$(id -u)" = 0 ] || { echo "ltx2-reference-env: needs root for debootstrap/chroot" >&2; exit 1; }
command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap; }

if [ ! -x "$root/usr/bin/python3" ]; then
  mkdir -p "$root"
  echo "ltx2-reference-env: debootstrap trixie into $root from $mirror"
  debootstrap --variant=minbase --include="$(IFS=,; echo "${required[*]}")" trixie "$root" "$mirror"
fi

in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
missing=()
for p in "${required[@]}" "${optional[@]}"; do
  in_root dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  in_root apt-get update -qq
  for p in "${missing[@]}"; do
    in_root apt-get install -y -qq --no-install-recommends "$p" \
      || echo "ltx2-reference-env: $p not installable in trixie (the harness shims it)" >&2
  done
fi
in_root python3 -c 'import torch, safetensors, einops, numpy; print("torch", torch.__version__, "numpy", numpy.__version__)'
echo "ltx2-reference-env: ready at $root"
