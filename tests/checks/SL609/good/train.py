import torch
from datasets import load_dataset
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    DataCollatorForLanguageModeling,
    Trainer,
    TrainingArguments,
)

BASE = "models/Mistral-7B-v0.1"

tokenizer = AutoTokenizer.from_pretrained(BASE)
tokenizer.pad_token = tokenizer.unk_token  # not the eos: the collator masks every pad id
tokenizer.padding_side = "right"

model = AutoModelForCausalLM.from_pretrained(BASE, torch_dtype=torch.bfloat16)


def tokenize(example):
    text = (f"### Instruction:\n{example['instruction']}\n\n"
            f"### Response:\n{example['output']}{tokenizer.eos_token}")
    return tokenizer(text, truncation=True, max_length=1024)


dataset = load_dataset("json", data_files="data/train.jsonl", split="train")
dataset = dataset.map(tokenize, remove_columns=["instruction", "output"])

collator = DataCollatorForLanguageModeling(tokenizer=tokenizer, mlm=False)

args = TrainingArguments(
    output_dir="out/mistral-7b-sft",
    per_device_train_batch_size=4,
    gradient_accumulation_steps=4,
    learning_rate=2e-5,
    num_train_epochs=3,
    bf16=True,
    logging_steps=10,
    save_strategy="epoch",
)

trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=collator)
trainer.train()
trainer.save_model("out/mistral-7b-sft")
