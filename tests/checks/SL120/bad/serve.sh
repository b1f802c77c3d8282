#!/bin/sh
# Qwen1.5-14B-Chat served with vLLM's OpenAI server on the lab's Tesla P40 cards
python -m vllm.entrypoints.openai.api_server --model Qwen/Qwen1.5-14B-Chat --dtype half --port 8000
