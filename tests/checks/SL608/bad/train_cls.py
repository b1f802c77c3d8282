from datasets import load_dataset
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding,
                          Trainer, TrainingArguments)

tokenizer = AutoTokenizer.from_pretrained("models/Llama-2-7b-hf")
model = AutoModelForSequenceClassification.from_pretrained("models/Llama-2-7b-hf", num_labels=2)

ds = load_dataset("imdb")
ds = ds.map(lambda b: tokenizer(b["text"], truncation=True, max_length=512), batched=True)
collator = DataCollatorWithPadding(tokenizer=tokenizer)

trainer = Trainer(model=model, args=TrainingArguments(output_dir="out", per_device_train_batch_size=8),
                  train_dataset=ds["train"], data_collator=collator)
trainer.train()
