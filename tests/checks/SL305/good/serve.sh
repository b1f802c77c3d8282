vllm serve ./qwen-awq
