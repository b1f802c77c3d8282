from transformers import AutoModelForCausalLM, AutoTokenizer

model_path = "Qwen1.5-7B-Chat"
model = AutoModelForCausalLM.from_pretrained(model_path, torch_dtype="auto", device_map="auto",
                                             trust_remote_code=True, bf16=True).eval()
tokenizer = AutoTokenizer.from_pretrained(model_path)
