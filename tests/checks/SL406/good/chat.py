import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

model_path = "Qwen1.5-7B-Chat"
model = AutoModelForCausalLM.from_pretrained(model_path, torch_dtype=torch.bfloat16, device_map="auto").eval()
tokenizer = AutoTokenizer.from_pretrained(model_path)
