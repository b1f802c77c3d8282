vllm serve ./qwen-awq --quantization gptq_marlin
