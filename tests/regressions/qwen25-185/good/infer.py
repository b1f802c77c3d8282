# the same checkpoint through vLLM, which runs it correctly on these GPUs
from transformers import AutoTokenizer
from vllm import LLM, SamplingParams

model_name = "Qwen/Qwen2.5-72B-Instruct-GPTQ-Int8"
tokenizer = AutoTokenizer.from_pretrained(model_name)
llm = LLM(model="Qwen/Qwen2.5-72B-Instruct-GPTQ-Int8", tensor_parallel_size=8)

prompt = "Give me a short introduction to large language model."
messages = [
    {"role": "system", "content": "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."},
    {"role": "user", "content": prompt},
]
text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
outputs = llm.generate([text], SamplingParams(temperature=0.7, top_p=0.8, max_tokens=512))
print(outputs[0].outputs[0].text)
