from transformers import AutoModelForCausalLM, AutoTokenizer

model_path = "Qwen/Qwen2.5-32B-Instruct-GPTQ-Int4"
tokenizer = AutoTokenizer.from_pretrained(model_path)
model = AutoModelForCausalLM.from_pretrained(model_path, torch_dtype="auto", device_map="auto")

messages = [
    {
        "role": "user",
        "content": "你好"
    }
]

input_text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
inputs = tokenizer([input_text], return_tensors="pt").to(model.device)
output_ids = model.generate(**inputs, max_new_tokens=512)
print(tokenizer.decode(output_ids[0][inputs.input_ids.shape[1]:], skip_special_tokens=True))
