#!/bin/sh
# DeepSeek-V3 inference/convert.py: HF checkpoint -> model-parallel shards
python convert.py --hf-ckpt-path /app/inference/DeepSeek-V3 --save-path /app/inference/DeepSeek-V3-Demo --n-experts 128 --model-parallel 4
