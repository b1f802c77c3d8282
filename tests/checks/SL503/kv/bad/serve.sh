#!/bin/bash
vllm serve ./model --tensor-parallel-size 5 --port 8000
