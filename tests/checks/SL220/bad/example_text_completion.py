from typing import List

import fire

from llama import Llama


def main(ckpt_dir: str, tokenizer_path: str, max_seq_len: int = 128, max_gen_len: int = 64, max_batch_size: int = 4):
    generator = Llama.build(
        ckpt_dir=ckpt_dir,
        tokenizer_path=tokenizer_path,
        max_seq_len=max_seq_len,
        max_batch_size=max_batch_size,
    )
    prompts: List[str] = [
        "The first prompt",
        "The second prompt",
        "The third prompt",
        "The fourth prompt",
    ]
    results = generator.text_completion(prompts, max_gen_len=max_gen_len)
    for prompt, result in zip(prompts, results):
        print(prompt, result["generation"])


if __name__ == "__main__":
    fire.Fire(main)
