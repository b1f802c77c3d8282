from transformers import AutoModelForCausalLM, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("Qwen-7B-Chat-Int8", trust_remote_code=True)
model = AutoModelForCausalLM.from_pretrained("Qwen-7B-Chat-Int8", device_map="auto", trust_remote_code=True).eval()
response, history = model.chat(tokenizer, "Hello", history=None)
print(response)
