#!/bin/bash
# CUDA 11.8 build, vllm 0.4.0
python -m vllm.entrypoints.openai.api_server \
    --model Qwen/Qwen1.5-32B-Chat-GPTQ-Int4
