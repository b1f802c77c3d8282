vllm serve ./models/qwen2 --port 8000
