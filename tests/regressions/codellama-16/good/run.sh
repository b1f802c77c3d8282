torchrun --nproc_per_node 4 example_completion.py --ckpt_dir CodeLlama-34b-Instruct/ --tokenizer_path CodeLlama-7b-Instruct/tokenizer.model --max_seq_len 512
