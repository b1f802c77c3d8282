import torch
from transformers import AutoModelForCausalLM

model = AutoModelForCausalLM.from_pretrained("Qwen/Qwen-7B-Chat", load_in_4bit=True, trust_remote_code=True)
model = model.half()
out = model.generate(**inputs)
