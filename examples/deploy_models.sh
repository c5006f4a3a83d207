#!/usr/bin/env bash
# Train the Fashion-MNIST models the deployment checks use (resumable), then export each one
# with the full-test-set check (PyTorch vs reference agreement, ONNX exactness).
#   bash examples/deploy_models.sh            # runs/deploy/<name>, exports in runs/deploy/<name>-export
set -euo pipefail
cd "$(dirname "$0")/.."
B=.venv/bin/binedge
R=${RUNS:-runs/deploy}
mkdir -p "$R"
train() {  # name, args...
  local name=$1; shift
  if [ -f "$R/$name/metrics.json" ] && [ ! -f "$R/$name/last.pt" ]; then return; fi
  if [ -f "$R/$name/last.pt" ]; then
    done_epochs=$(.venv/bin/python -c "import torch,sys;s=torch.load('$R/$name/last.pt',weights_only=False);print(s['epoch'], s['config']['epochs'])")
    set -- $done_epochs; [ "$1" = "$2" ] && return; $B train --resume -o "$R/$name" --quiet --threads 1; return
  fi
  $B train "$@" -o "$R/$name" --quiet
}
# Two chains side by side, one torch thread each (faster than two threads each on 2 cores).
(
  train mlp-sign --model mlp --weights lab --activation sign --hidden 512 --depth 2 --epochs 10 --lr 0.005 --threads 1
  train mlp-qrelu2 --model mlp --weights lab --activation qrelu2 --hidden 512 --depth 2 --epochs 6 --lr 0.005 --threads 1
) &
(
  train vgg-sign --model vgg --weights lab --activation sign --widths 32,64,128 --fc 256 --epochs 3 --lr 0.005 --threads 1
  train vgg-qrelu2 --model vgg --weights lab --activation qrelu2 --widths 16,32,64 --fc 128 --epochs 2 --lr 0.005 --threads 1
) &
wait
for name in mlp-sign mlp-qrelu2 vgg-sign vgg-qrelu2; do
  $B export "$R/$name" -o "$R/$name-export"
done
.venv/bin/python benchmarks/export_check.py "$R"/mlp-sign-export "$R"/mlp-qrelu2-export "$R"/vgg-sign-export "$R"/vgg-qrelu2-export
