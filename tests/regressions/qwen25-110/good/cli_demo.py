# quantization_config copied to quantize_config.json; auto_gptq's own loader on the triton kernel
from threading import Thread

from auto_gptq import AutoGPTQForCausalLM
from transformers import AutoTokenizer, TextIteratorStreamer

tokenizer = AutoTokenizer.from_pretrained("Qwen2-7B-Instruct-GPTQ-Int8", resume_download=True)
model = AutoGPTQForCausalLM.from_quantized("Qwen2-7B-Instruct-GPTQ-Int8", use_triton=True, device="cuda:0")
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
