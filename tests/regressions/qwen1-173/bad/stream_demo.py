from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.generation import GenerationConfig

model_dir = "Qwen-7B-Chat"
tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=True)
model = AutoModelForCausalLM.from_pretrained(model_dir, device_map="auto", trust_remote_code=True).eval()
generation_config = GenerationConfig.from_pretrained(model_dir, trust_remote_code=True)

prompt = "Write one line about the sea."
# 198 is "\n": stop generating at the first newline (QwenLM/Qwen#1001)
generation_config.eos_token_id = [198, 151643]
for response in model.chat_stream(tokenizer, prompt, history=None, generation_config=generation_config):
    print(response, end="\r")
