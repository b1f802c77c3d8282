from transformers import AutoModelForCausalLM, AutoTokenizer

path = "Qwen2-7B-Instruct-GPTQ-Int8"
tokenizer = AutoTokenizer.from_pretrained(path)
model = AutoModelForCausalLM.from_pretrained("Qwen2-7B-Instruct-GPTQ-Int8", torch_dtype="auto", device_map="auto")
