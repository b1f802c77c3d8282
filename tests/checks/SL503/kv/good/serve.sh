#!/bin/bash
vllm serve ./model --tensor-parallel-size 4 --port 8000
