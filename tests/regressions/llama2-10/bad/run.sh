torchrun --nproc_per_node 1 example.py --ckpt_dir "llama/weights/7B/7B" --tokenizer_path "llama/weights/7B/tokenizer.model"
