#!/bin/bash
vllm serve ./Qwen2.5-32B-Instruct-GPTQ-Int4 \
    --tensor-parallel-size 4 \
    --max-model-len 8192
