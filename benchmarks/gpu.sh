#!/usr/bin/env bash
# The GPU half of issue 6, for a session that has the device machine.  Stages (each under 10 minutes):
#   bash benchmarks/gpu.sh check | latency | throughput | train
# Prerequisites (on the dev machine, once): ../shared/tools/device_wheels.sh && bash benchmarks/gpu_prepare.sh
# then in each `run` (carry [".whl"]):
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
#     && export PYTHONPATH=/tmp/site:$PWD || exit; bash benchmarks/gpu.sh latency
# Results are appended to $OUT (the device tool's folder) or benchmarks/results.
set -euo pipefail
export HF_HUB_OFFLINE=1
RESULTS=${OUT:-benchmarks/results}
TOK=.whl/minilm-tokenizer
mkdir -p "$RESULTS"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$RESULTS/gpu_info.txt"
case "${1:-latency}" in
  check)
    python3 benchmarks/check_fast_paths.py --device cuda --tokenizer "$TOK" | tee -a "$RESULTS/check_fast_gpu.jsonl" ;;
  latency)   # batch-1 latency, 25 steps, bf16: AudioLDMPipeline, audiodiff plain, audiodiff with CUDA graphs
    G="python3 benchmarks/bench_generate.py --device cuda --dtype bfloat16 --steps 25 --repeats 10 --text-encoder $TOK --output $RESULTS/generate_gpu.jsonl"
    $G --only audioldm audiodiff default --plain
    $G --only audiodiff default --channels-last --compile reduce-overhead --warmup 3 ;;
  throughput)  # clips/s per batch (stops at the first out-of-memory)
    G="python3 benchmarks/bench_generate.py --device cuda --dtype bfloat16 --steps 25 --repeats 3 --text-encoder $TOK --output $RESULTS/generate_gpu.jsonl"
    $G --only audioldm audiodiff --plain --batch-sizes 8,32,64,128
    $G --only audiodiff --channels-last --compile max-autotune-no-cudagraphs --batch-sizes 8,32,64,128 ;;
  train)
    T="python3 benchmarks/bench_train.py --device cuda --dtype bfloat16 --output $RESULTS/train_gpu.jsonl"
    $T --batch-size 64
    $T --batch-size 64 --channels-last --compile
    $T --batch-size 128 --channels-last --compile ;;
  *) echo "unknown stage $1 (check | latency | throughput | train)"; exit 2 ;;
esac
