from vllm import LLM, SamplingParams
sp = SamplingParams(temperature=0.7, top_p=0.8)
