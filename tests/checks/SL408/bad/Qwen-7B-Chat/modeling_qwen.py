from transformers import PreTrainedModel


class QWenPreTrainedModel(PreTrainedModel):
    supports_gradient_checkpointing = True

    def _set_gradient_checkpointing(self, module, value=False):
        if isinstance(module, QWenModel):
            module.gradient_checkpointing = value


class QWenModel(QWenPreTrainedModel):
    pass


class QWenLMHeadModel(QWenPreTrainedModel):
    pass
