from peft import AutoPeftModelForCausalLM

path_to_adapter = "output_qwen"
new_model_directory = "merged_qwen"

model = AutoPeftModelForCausalLM.from_pretrained(
    path_to_adapter,  # path to the output directory
    device_map="auto",
    trust_remote_code=True,
).eval()

merged_model = model.merge_and_unload()
merged_model.save_pretrained(new_model_directory, max_shard_size="2048MB", safe_serialization=True)
