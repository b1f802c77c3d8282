"""Chat with Qwen-7B-Chat in the terminal."""
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.generation import GenerationConfig

CHECKPOINT = "Qwen-7B-Chat"

tokenizer = AutoTokenizer.from_pretrained(CHECKPOINT, trust_remote_code=True)
model = AutoModelForCausalLM.from_pretrained(CHECKPOINT, device_map="auto").eval()
model.generation_config = GenerationConfig.from_pretrained(CHECKPOINT, trust_remote_code=True)

history = None
while True:
    query = input("User> ")
    response, history = model.chat(tokenizer, query, history=history)
    print(f"Qwen-Chat: {response}")
