#!/bin/bash
deepspeed --num_gpus 2 train.py \
  --model_name_or_path Qwen/Qwen2.5-7B-Instruct \
  --data_path data/train.json \
  --output_dir output \
  --bf16 True \
  --per_device_train_batch_size 2 \
  --gradient_accumulation_steps 8 \
  --learning_rate 1e-5 \
  --deepspeed ds_config_zero2.json
