# Qwen2-7B-Instruct-GPTQ-Int8 through transformers: loads, then answers in garbage (vLLM is fine)
from threading import Thread

from transformers import AutoModelForCausalLM, AutoTokenizer, TextIteratorStreamer

tokenizer = AutoTokenizer.from_pretrained("Qwen2-7B-Instruct-GPTQ-Int8", resume_download=True)
model = AutoModelForCausalLM.from_pretrained(
    "Qwen2-7B-Instruct-GPTQ-Int8",
    torch_dtype="auto",
    device_map="auto",
    resume_download=True,
    attn_implementation="flash_attention_2",
).eval()
model.generation_config.max_new_tokens = 2048


def chat_stream(conversation):
    inputs = tokenizer.apply_chat_template(conversation, add_generation_prompt=True, return_tensors="pt")
    inputs = inputs.to(model.device)
    streamer = TextIteratorStreamer(tokenizer=tokenizer, skip_prompt=True, timeout=60.0, skip_special_tokens=True)
    generation_kwargs = dict(input_ids=inputs, streamer=streamer, max_new_tokens=512,
                             pad_token_id=tokenizer.eos_token_id)
    thread = Thread(target=model.generate, kwargs=generation_kwargs)
    thread.start()
    for new_text in streamer:
        yield new_text
