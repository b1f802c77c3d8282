import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

MODEL_DIR = "models/Meta-Llama-3-8B-Instruct"

tokenizer = AutoTokenizer.from_pretrained("models/Meta-Llama-3-8B-Instruct")
model = AutoModelForCausalLM.from_pretrained(
    "models/Meta-Llama-3-8B-Instruct", torch_dtype=torch.bfloat16, device_map="auto"
)


def answer(question: str) -> str:
    messages = [
        {"role": "system", "content": "You are a concise assistant."},
        {"role": "user", "content": question},
    ]
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    inputs = tokenizer(prompt, return_tensors="pt").to(model.device)
    out = model.generate(
        **inputs,
        max_new_tokens=256,
        eos_token_id=[tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|eot_id|>")],
    )
    return tokenizer.decode(out[0][inputs["input_ids"].shape[1]:], skip_special_tokens=True)


if __name__ == "__main__":
    print(answer("What is the capital of France?"))
