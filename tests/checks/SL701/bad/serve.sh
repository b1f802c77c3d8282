vllm serve Qwen/Qwen2.5-72B-Instruct --tensor-parallel-size 1
