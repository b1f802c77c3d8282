from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.generation import GenerationConfig

model_dir = "Qwen-7B-Chat"
tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=True)
model = AutoModelForCausalLM.from_pretrained(model_dir, device_map="auto", trust_remote_code=True).eval()
generation_config = GenerationConfig.from_pretrained(model_dir, trust_remote_code=True)

prompt = "Write one line about the sea."
# 198 is "\n": stop at the first newline with stop_words_ids, keeping the single eos id (maintainer's advice)
for response in model.chat_stream(tokenizer, prompt, history=None, generation_config=generation_config,
                                  stop_words_ids=[[198]]):
    print(response, end="\r")
