from transformers import AutoModelForCausalLM, AutoTokenizer, TrainingArguments
from trl import SFTTrainer

tok = AutoTokenizer.from_pretrained("Qwen/Qwen2.5-7B-Instruct")
model = AutoModelForCausalLM.from_pretrained("Qwen/Qwen2.5-7B-Instruct")
args = TrainingArguments(output_dir="out", eval_strategy="steps", eval_steps=100)
trainer = SFTTrainer(model=model, args=args, processing_class=tok)
trainer.train()
