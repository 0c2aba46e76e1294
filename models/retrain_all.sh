#!/usr/bin/env bash
# Retrains every shipped pretrained model and rewrites models/pretrained/manifest.yaml.
# Run from anywhere; needs the data cache (scripts/setup.sh). About 3-4 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
/usr/bin/python3 models/train.py --method scale --dataset mnist --epochs 10 --batch-size 256 \
  --lr 3e-3 --aux-lr 1e-2 --p 0.2 --dropped-value 1 --seed 0 --eval-T 20 \
  --out models/pretrained/mnist_mlp_scale.onnx --manifest models/pretrained/manifest.yaml
