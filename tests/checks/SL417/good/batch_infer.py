"""Answer a list of questions with Qwen2-0.5B-Instruct, several at a time."""
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

MODEL = "Qwen/Qwen2-0.5B-Instruct"
device = "cuda" if torch.cuda.is_available() else "cpu"

model = AutoModelForCausalLM.from_pretrained(MODEL, torch_dtype="auto", device_map=device)
tokenizer = AutoTokenizer.from_pretrained(MODEL, padding_side="left")


def answer(questions, batch_size=8):
    answers = []
    for start in range(0, len(questions), batch_size):
        batch = questions[start:start + batch_size]
        inputs = tokenizer(batch, return_tensors="pt", padding=True).to(device)
        generate_ids = model.generate(**inputs, max_new_tokens=64)
        answers += tokenizer.batch_decode(generate_ids, skip_special_tokens=True)
    return answers


if __name__ == "__main__":
    print(answer(["Question 1, what can you do?", "Question 2, who is the most powerful man in the world?"]))
