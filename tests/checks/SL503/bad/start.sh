#!/bin/bash
# Qwen2-57B-A14B has 28 attention heads
python -m vllm.entrypoints.openai.api_server \
    --model Qwen/Qwen2-57B-A14B-Instruct \
    --tensor-parallel-size 8 \
    --port 8000
