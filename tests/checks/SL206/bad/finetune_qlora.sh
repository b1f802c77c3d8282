#!/bin/bash
MODEL="Qwen/Qwen-7B"
DATA="data/train.json"

torchrun --nproc_per_node 2 finetune.py \
    --model_name_or_path $MODEL \
    --data_path $DATA \
    --fp16 True \
    --output_dir output_qwen \
    --per_device_train_batch_size 2 \
    --model_max_length 512 \
    --use_lora \
    --q_lora \
    --deepspeed finetune/ds_config_zero2.json
