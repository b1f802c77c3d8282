from auto_gptq import AutoGPTQForCausalLM
from transformers import AutoTokenizer

path = "Qwen2-7B-Instruct-GPTQ-Int8"
tokenizer = AutoTokenizer.from_pretrained(path)
model = AutoGPTQForCausalLM.from_quantized("Qwen2-7B-Instruct-GPTQ-Int8", use_triton=True)
