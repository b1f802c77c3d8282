#!/bin/bash
# image built from the QwenLM/vllm-gptq Dockerfile; Qwen-7B-Chat-Int4 runs, Qwen-14B-Chat-Int4 fails at TP 2
python -m vllm.entrypoints.openai.api_server \
    --model ./Qwen-14B-Chat-Int4 \
    --trust-remote-code \
    --dtype float16 \
    --tensor-parallel-size 1
