from transformers import AutoModelForCausalLM, AutoTokenizer

model_path = "Qwen-7B-Chat"
tokenizer = AutoTokenizer.from_pretrained(model_path, trust_remote_code=True)
model = AutoModelForCausalLM.from_pretrained(model_path, device_map="auto", trust_remote_code=True, bf16=True).eval()
response, history = model.chat(tokenizer, "你好", history=None)
print(response)
