import os
import sys

import torch


def setup():
    backend = "nccl" if sys.platform == "linux" else "gloo"
    torch.distributed.init_process_group(backend=backend)
