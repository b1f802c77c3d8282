from transformers import AutoModelForCausalLM

base_model = '/llm/llama-2-70b-chat-hf'
model = AutoModelForCausalLM.from_pretrained(
    base_model,
    load_8_bit = True,
    device_map = {"":0},
    use_safetensors = True
)
