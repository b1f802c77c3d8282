from typing import List, Optional

import fire

from llama import Dialog, Llama


def main(
    ckpt_dir: str,
    tokenizer_path: str,
    temperature: float = 0.6,
    top_p: float = 0.9,
    max_seq_len: int = 512,
    max_batch_size: int = 8,
    max_gen_len: Optional[int] = None,
):
    generator = Llama.build(
        ckpt_dir=ckpt_dir,
        tokenizer_path=tokenizer_path,
        max_seq_len=max_seq_len,
        max_batch_size=max_batch_size,
    )

    dialogs: List[Dialog] = [
        [{"role": "user", "content": "dialog 1"}],
        [
            {"role": "user", "content": "dialog 2"},
            {"role": "assistant", "content": "reply"},
            {"role": "user", "content": "follow-up"},
        ],
        [
            {"role": "system", "content": "system prompt"},
            {"role": "user", "content": "dialog 3"},
        ],
        [
            {"role": "system", "content": "system prompt"},
            {"role": "user", "content": "dialog 4"},
        ],
        [
            {"role": "system", "content": "system prompt"},
            {"role": "user", "content": "dialog 5"},
        ],
        [
            {"role": "system", "content": "system prompt"},
            {"role": "user", "content": "dialog 6"},
        ],
    ]
    results = generator.chat_completion(
        dialogs,
        max_gen_len=max_gen_len,
        temperature=temperature,
        top_p=top_p,
    )
    for dialog, result in zip(dialogs, results):
        print(result["generation"]["content"])


if __name__ == "__main__":
    fire.Fire(main)
