#!/bin/bash
# Qwen-14B-Chat-Int4 on two GPUs (the 7B and 72B Int4 models deploy fine)
python -m vllm.entrypoints.openai.api_server \
    --model ./Qwen-14B-Chat-Int4 \
    --trust-remote-code \
    --quantization gptq \
    --tensor-parallel-size 1
