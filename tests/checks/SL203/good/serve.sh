vllm serve Qwen/Qwen2.5-7B-Instruct --max-model-len 32768
