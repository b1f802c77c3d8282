# run inside the qwenllm/qwen:1.5-cu121 container
python -m vllm.entrypoints.openai.api_server --model /workspace/qwen/Qwen1___5-14B-Chat-GPTQ-Int4 --tensor-parallel-size 4
