import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

device = "cuda" if torch.cuda.is_available() else "cpu"

model = AutoModelForCausalLM.from_pretrained(
    "Qwen/Qwen1.5-14B-Chat",
    torch_dtype="auto",
    device_map="auto"
)
tokenizer = AutoTokenizer.from_pretrained("Qwen/Qwen1.5-14B-Chat")
inputs = tokenizer(["hello"], return_tensors="pt").to(model.device)

reward = AutoModelForCausalLM.from_pretrained("Qwen/Qwen1.5-7B-Chat", device_map="cuda:0").eval()
reward.cuda()
small = AutoModelForCausalLM.from_pretrained("Qwen/Qwen1.5-0.5B-Chat", device_map="auto")
small = small.to(torch.bfloat16)
