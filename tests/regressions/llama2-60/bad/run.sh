# AWS p2.8xlarge, 8x Tesla K80
torchrun --nproc-per-node=8 example_text_completion.py --ckpt_dir llama-2-7b/ --tokenizer_path tokenizer.model
