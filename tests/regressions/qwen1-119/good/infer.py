# Inference with a Qwen-7B (base) checkpoint fully fine-tuned by Qwen's finetune.py (QwenLM/Qwen#671).
# chat() builds ChatML itself: pass the plain question and the system text (maintainer's answer).
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.generation import GenerationConfig

model_dir = "output_qwen"  # the fine-tuned model
tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=True)
model = AutoModelForCausalLM.from_pretrained(model_dir, device_map="auto", trust_remote_code=True).eval()
model.generation_config = GenerationConfig.from_pretrained("Qwen/Qwen-7B-Chat", trust_remote_code=True)

query = "你好"
response, history = model.chat(tokenizer, query, history=None, system="指令内容")
print(response)
