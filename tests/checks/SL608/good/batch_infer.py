import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

MODEL = "models/Llama-2-7b-hf"

tokenizer = AutoTokenizer.from_pretrained(MODEL)
tokenizer.padding_side = "left"
tokenizer.pad_token = tokenizer.eos_token
model = AutoModelForCausalLM.from_pretrained(MODEL, torch_dtype=torch.float16, device_map="auto")

prompts = ["The capital of France is", "Write a haiku about the sea:"]
inputs = tokenizer(prompts, padding=True, return_tensors="pt").to(model.device)
outputs = model.generate(**inputs, max_new_tokens=64)
print(tokenizer.batch_decode(outputs, skip_special_tokens=True))
