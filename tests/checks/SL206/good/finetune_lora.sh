#!/bin/bash
# LoRA (no --q_lora) of the base model: finetune.py trains wte and lm_head as well
python finetune.py \
    --model_name_or_path Qwen/Qwen-7B \
    --data_path data/train.json \
    --bf16 True \
    --output_dir output_qwen_lora \
    --per_device_train_batch_size 2 \
    --use_lora
