# Excerpt of the Qwen-7B-Chat remote code re-downloaded after 2023-08-04 (chat(..., stream=True)).
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
        stream: Optional[bool] = False,
    ) -> Tuple[str, HistoryType]:
        ...
