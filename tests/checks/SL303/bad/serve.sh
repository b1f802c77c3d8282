vllm serve ./qwen-awq --quantization awq
