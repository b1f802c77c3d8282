from transformers import PreTrainedModel


class QWenPreTrainedModel(PreTrainedModel):
    base_model_prefix = "transformer"


class QWenLMHeadModel(QWenPreTrainedModel):
    def chat(self, tokenizer, query, history, system="You are a helpful assistant.", append_history=True, stream=False):
        ...
