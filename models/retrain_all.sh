#!/usr/bin/env bash
# Retrains every shipped pretrained model and rewrites models/pretrained/manifest.yaml.
# Run from anywhere; needs the data cache (scripts/setup.sh). About three hours on 2 cores: training
# plus the T=20 evaluation on 20k images (train_wall_s / eval_wall_s in the manifest). Every model
# takes 8-bit first-layer inputs (--input-bits 8: the pixel values, read bit-serially by the
# hardware); the shipped ones were trained with one thread each (--threads 1), two at a time.
set -euo pipefail
cd "$(dirname "$0")/.."

# Binary MLPs 784-512-512-10 on MNIST.
/usr/bin/python3 -m models.train --method scale --dataset mnist --input-bits 8 --epochs 10 --batch-size 256 \
  --lr 3e-3 --aux-lr 1e-2 --p 0.2 --dropped-value 1 --seed 0 --eval-T 20 --threads 1 \
  --out models/pretrained/mnist_mlp_scale.onnx --manifest models/pretrained/manifest.yaml
/usr/bin/python3 -m models.train --method none --dataset mnist --input-bits 8 --epochs 6 --batch-size 256 \
  --lr 3e-3 --aux-lr 1e-2 --seed 0 --eval-T 20 --threads 1 \
  --out models/pretrained/mnist_mlp_none.onnx --manifest models/pretrained/manifest.yaml
/usr/bin/python3 -m models.train --method mc_dropout --dataset mnist --input-bits 8 --epochs 6 --batch-size 256 \
  --lr 3e-3 --aux-lr 1e-2 --p 0.2 --seed 0 --eval-T 20 --threads 1 \
  --out models/pretrained/mnist_mlp_mc_dropout.onnx --manifest models/pretrained/manifest.yaml

# Binary CNNs (conv3x3 32 + maxpool, conv3x3 64 + maxpool, fc 128, fc 10) on Fashion-MNIST.
/usr/bin/python3 -m models.train --topology cnn --method none --dataset fashion --input-bits 8 --epochs 8 --batch-size 128 \
  --lr 3e-3 --aux-lr 1e-2 --seed 0 --eval-T 20 --threads 1 \
  --out models/pretrained/fashion_cnn_none.onnx --manifest models/pretrained/manifest.yaml
/usr/bin/python3 -m models.train --topology cnn --method scale --dataset fashion --input-bits 8 --epochs 8 --batch-size 128 \
  --lr 3e-3 --aux-lr 1e-2 --p 0.2 --dropped-value 1 --seed 0 --eval-T 20 --threads 1 \
  --out models/pretrained/fashion_cnn_scale.onnx --manifest models/pretrained/manifest.yaml
/usr/bin/python3 -m models.train --topology cnn --method spatial --dataset fashion --input-bits 8 --epochs 10 --batch-size 128 \
  --lr 3e-3 --aux-lr 1e-2 --p 0.2 --seed 0 --eval-T 20 --threads 1 \
  --out models/pretrained/fashion_cnn_spatial.onnx --manifest models/pretrained/manifest.yaml
/usr/bin/python3 -m models.train --topology cnn --method mc_dropout --dataset fashion --input-bits 8 --epochs 8 --batch-size 128 \
  --lr 3e-3 --aux-lr 1e-2 --p 0.2 --seed 0 --eval-T 20 --threads 1 \
  --out models/pretrained/fashion_cnn_mc_dropout.onnx --manifest models/pretrained/manifest.yaml
