#!/bin/sh
# DeepSeek-R1-Distill-Qwen-32B with the tokenizer_config.json of the hub after DeepSeek's
# 2025-02-09 update (the chat template now ends with "<｜Assistant｜><think>\n").
vllm serve ./models/DeepSeek-R1-Distill-Qwen-32B \
    --tensor-parallel-size 2 \
    --enable-reasoning \
    --reasoning-parser deepseek_r1
