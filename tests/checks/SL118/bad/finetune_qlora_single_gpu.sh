#!/bin/bash
MODEL="Qwen/Qwen-7B-Chat-Int4"
DATA="data/train.json"

python finetune.py \
  --model_name_or_path $MODEL \
  --data_path $DATA \
  --fp16 True \
  --output_dir output_qwen \
  --per_device_train_batch_size 2 \
  --gradient_accumulation_steps 8 \
  --model_max_length 512 \
  --use_lora \
  --q_lora \
  --deepspeed finetune/ds_config_zero2.json
