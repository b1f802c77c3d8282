from vllm import LLM, SamplingParams

llm = LLM(model="Qwen/Qwen2.5-7B-Instruct", dtype="float16")
print(llm.generate(["Hello"], SamplingParams(max_tokens=32)))
