import json
import os
from pathlib import Path

import fire
import torch
from fairscale.nn.model_parallel.initialize import initialize_model_parallel

from llama import LLaMA, ModelArgs, Tokenizer, Transformer


def setup_model_parallel():
    local_rank = int(os.environ.get("LOCAL_RANK", -1))
    world_size = int(os.environ.get("WORLD_SIZE", -1))
    torch.distributed.init_process_group("nccl")
    initialize_model_parallel(world_size)
    torch.cuda.set_device(local_rank)
    return local_rank, world_size


def load(ckpt_dir: str, tokenizer_path: str, local_rank: int, world_size: int) -> LLaMA:
    checkpoints = sorted(Path(ckpt_dir).glob("*.pth"))
    checkpoint = torch.load(checkpoints[local_rank], map_location="cpu")
    params = json.loads((Path(ckpt_dir) / "params.json").read_text())
    model_args: ModelArgs = ModelArgs(max_seq_len=1024, max_batch_size=32, **params)
    tokenizer = Tokenizer(model_path=tokenizer_path)
    model_args.vocab_size = tokenizer.n_words
    torch.set_default_tensor_type(torch.cuda.HalfTensor)
    model = Transformer(model_args)
    torch.set_default_tensor_type(torch.FloatTensor)
    model.load_state_dict(checkpoint, strict=False)
    return LLaMA(model, tokenizer)


def main(ckpt_dir: str, tokenizer_path: str, temperature: float = 0.8, top_p: float = 0.95):
    local_rank, world_size = setup_model_parallel()
    generator = load(ckpt_dir, tokenizer_path, local_rank, world_size)
    prompts = ["The capital of France is"]
    for result in generator.generate(prompts, max_gen_len=256, temperature=temperature, top_p=top_p):
        print(result)


if __name__ == "__main__":
    fire.Fire(main)
