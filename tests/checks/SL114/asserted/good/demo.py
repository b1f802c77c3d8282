from transformers import AutoModelForCausalLM, AutoTokenizer

path = "Qwen-14B-Chat"
tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=True)
model = AutoModelForCausalLM.from_pretrained(path, device_map="auto", trust_remote_code=True).eval()
for part in model.chat_stream(tokenizer, "Hello", history=None):
    print(part)
response, history = model.chat(tokenizer, "Hello", history=None, top_p=0.8)
