from transformers import PreTrainedModel

_SENTINEL = object()
_ERROR_STREAM_IN_CHAT = "model.chat(stream=True) is replaced by model.chat_stream()"


class QWenLMHeadModel(PreTrainedModel):
    def chat(self, tokenizer, query, history, system="You are a helpful assistant.", stream=_SENTINEL,
             stop_words_ids=None, generation_config=None, **kwargs):
        assert stream is _SENTINEL, _ERROR_STREAM_IN_CHAT
        ...

    def chat_stream(self, tokenizer, query, history, system="You are a helpful assistant.", **kwargs):
        ...
