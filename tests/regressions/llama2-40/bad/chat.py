from transformers import AutoModelForCausalLM, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("./Llama-2-70b-chat-hf")
# 4-bit to fit on two RTX 3090s
model = AutoModelForCausalLM.from_pretrained("./Llama-2-70b-chat-hf", load_in_4bit=True, device_map="auto")

inputs = tokenizer("[INST] Hello [/INST]", return_tensors="pt").to(model.device)
outputs = model.generate(**inputs, max_new_tokens=256)
print(tokenizer.decode(outputs[0], skip_special_tokens=True))
