# Excerpt of the Qwen-7B-Chat remote code as downloaded before 2023-08-04 (chat() without streaming).
from typing import List, Optional, Tuple

from transformers import PreTrainedModel, PreTrainedTokenizer

HistoryType = List[Tuple[str, str]]


class QWenPreTrainedModel(PreTrainedModel):
    base_model_prefix = "transformer"


class QWenLMHeadModel(QWenPreTrainedModel):
    def chat(
        self,
        tokenizer: PreTrainedTokenizer,
        query: str,
        history: Optional[HistoryType],
        system: str = "You are a helpful assistant.",
        append_history: bool = True,
    ) -> Tuple[str, HistoryType]:
        ...
