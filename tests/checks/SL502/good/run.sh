#!/bin/sh
torchrun --nproc_per_node 2 example_chat_completion.py \
    --ckpt_dir llama-2-13b-chat/ --tokenizer_path tokenizer.model --max_seq_len 512 --max_batch_size 4
# an HF conversion is not a fairscale checkpoint
torchrun --nproc_per_node 1 train.py --ckpt_dir Llama-2-13b-hf
