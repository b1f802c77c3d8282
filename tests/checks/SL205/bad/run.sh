#!/bin/bash
export CUDA_VISIBLE_DEVICES=0,1
torchrun --nproc_per_node 4 finetune.py \
    --model_name_or_path Qwen/Qwen2.5-7B-Instruct \
    --output_dir output --bf16 True
