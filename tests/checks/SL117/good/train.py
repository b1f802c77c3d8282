from datasets import load_dataset
from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments

model_id = "meta-llama/Llama-2-7b-hf"
tokenizer = AutoTokenizer.from_pretrained(model_id)
model = AutoModelForCausalLM.from_pretrained(model_id)
data = load_dataset("json", data_files="data/train.jsonl")["train"]

args = TrainingArguments(
    output_dir="out",
    per_device_train_batch_size=1,
    gradient_accumulation_steps=8,
    bf16=True,
    save_steps=500,
    deepspeed="configs/zero3.json",
)
Trainer(model=model, args=args, train_dataset=data, tokenizer=tokenizer).train()
