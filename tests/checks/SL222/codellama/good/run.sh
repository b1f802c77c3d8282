torchrun --nproc_per_node 1 example_instructions.py \
    --ckpt_dir CodeLlama-7b-Instruct/ \
    --tokenizer_path CodeLlama-7b-Instruct/tokenizer.model \
    --max_seq_len 512 --max_batch_size 4
# a fine-tune saved under its own name is not judged
torchrun --nproc_per_node 1 example_chat_completion.py \
    --ckpt_dir checkpoints/llama-2-7b-sft/ \
    --tokenizer_path tokenizer.model
