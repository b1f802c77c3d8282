#!/bin/bash
MODEL="Qwen/Qwen-7B"
torchrun --nproc_per_node 8 finetune.py \
    --model_name_or_path $MODEL \
    --bf16 True \
    --output_dir output_qwen \
    --num_train_epochs 5 \
    --per_device_train_batch_size 1 \
    --learning_rate 1e-5 \
    --deepspeed finetune/ds_config_zero3.json
