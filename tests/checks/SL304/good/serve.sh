#!/bin/bash
vllm serve ./Qwen2.5-72B-Instruct-GPTQ-Int4 \
    --tensor-parallel-size 8 \
    --max-model-len 8192
