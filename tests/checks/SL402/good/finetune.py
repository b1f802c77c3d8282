import torch
from peft import LoraConfig, get_peft_model, prepare_model_for_int8_training

model = prepare_model_for_int8_training(model)
