import torch
from transformers import AutoModelForCausalLM

model = AutoModelForCausalLM.from_pretrained("Qwen/Qwen-7B-Chat", load_in_4bit=True, trust_remote_code=True)
out = model.generate(**inputs)
