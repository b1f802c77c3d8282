from transformers import AutoModelForCausalLM, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("Qwen/Qwen-14B-Chat", trust_remote_code=True)
model = AutoModelForCausalLM.from_pretrained("Qwen/Qwen-14B-Chat", device_map="auto", trust_remote_code=True).eval()
model.generation_config.eos_token_id = [151643, 151645]


def answer(query, history):
    for partial in model.chat_stream(tokenizer, query, history=history):
        yield partial
