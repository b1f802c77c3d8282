import peft

model = peft.AutoPeftModelForCausalLM.from_pretrained("lora-out", trust_remote_code=True)
merged = model.merge_and_unload()
merged.save_pretrained("merged")
