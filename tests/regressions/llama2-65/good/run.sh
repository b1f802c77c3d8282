# the 13B checkpoint has two shards (MP=2): one process per shard, on two GPUs
torchrun --nproc_per_node 2 example_chat_completion.py --ckpt_dir llama-2-13b/ --tokenizer_path tokenizer.model --max_seq_len 512 --max_batch_size 6
