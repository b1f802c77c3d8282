# Inference with a Qwen-7B (base) checkpoint fully fine-tuned by Qwen's finetune.py (QwenLM/Qwen#671).
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.generation import GenerationConfig

model_dir = "output_qwen"  # the fine-tuned model
tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=True)
model = AutoModelForCausalLM.from_pretrained(model_dir, device_map="auto", trust_remote_code=True).eval()
model.generation_config = GenerationConfig.from_pretrained("Qwen/Qwen-7B-Chat", trust_remote_code=True)

prefix = "<|im_start|>system\n指令内容<|im_end|>\n"
postfix = "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"

query = "你好"
response, history = model.chat(tokenizer, prefix + postfix.format(query), history=None)
print(response)
