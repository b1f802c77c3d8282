#!/bin/bash
MODEL=./Qwen-14B-Chat-Int4
python finetune.py \
  --model_name_or_path $MODEL \
  --data_path data.json \
  --fp16 True \
  --output_dir output_qwen \
  --use_lora \
  --q_lora
