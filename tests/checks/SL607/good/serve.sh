#!/bin/sh
vllm serve output/llama2-7b-chatml-sft --dtype float16 --max-model-len 4096
