# Excerpt of the Qwen-14B-Chat-Int4 remote code of 2023 (gradient-checkpointing hook of transformers < 4.35).
from transformers import PreTrainedModel


class QWenPreTrainedModel(PreTrainedModel):
    base_model_prefix = "transformer"
    is_parallelizable = False
    supports_gradient_checkpointing = True
    _no_split_modules = ["QWenBlock"]

    def _set_gradient_checkpointing(self, module, value=False):
        if isinstance(module, QWenModel):
            module.gradient_checkpointing = value


class QWenModel(QWenPreTrainedModel):
    pass


class QWenLMHeadModel(QWenPreTrainedModel):
    pass
