from transformers import AutoModelForCausalLM, AutoTokenizer

model = AutoModelForCausalLM.from_pretrained("Qwen1.5-7B-Chat", torch_dtype="auto", device_map="auto")
tokenizer = AutoTokenizer.from_pretrained("Qwen1.5-7B-Chat")

messages = [{"role": "user", "content": "Hello"}]
text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
inputs = tokenizer([text], return_tensors="pt").to(model.device)
out = model.generate(inputs.input_ids, max_new_tokens=512, eos_token_id=[151645, 151643])
print(tokenizer.decode(out[0][inputs.input_ids.shape[1]:], skip_special_tokens=True))
