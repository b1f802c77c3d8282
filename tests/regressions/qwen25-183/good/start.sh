#!/bin/bash
# Qwen2.5-72B-Instruct-GPTQ-Int4 on 4 GPUs
python -m vllm.entrypoints.openai.api_server \
    --model ./Qwen2.5-72B-Instruct-GPTQ-Int4 \
    --served-model-name qwen2.5-72b \
    --tensor-parallel-size 4 \
    --gpu-memory-utilization 0.9
