torchrun --nproc_per_node 1 example_instructions.py \
    --ckpt_dir CodeLlama-7b-Python/ \
    --tokenizer_path CodeLlama-7b-Python/tokenizer.model \
    --max_seq_len 512 --max_batch_size 4
