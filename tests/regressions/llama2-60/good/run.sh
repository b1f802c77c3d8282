# AWS p2.8xlarge, 8x Tesla K80: the 7B checkpoint has one shard (MP=1)
CUDA_VISIBLE_DEVICES=0 torchrun --nproc-per-node=1 example_text_completion.py --ckpt_dir llama-2-7b/ --tokenizer_path tokenizer.model
