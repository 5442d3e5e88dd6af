"""Shared test settings."""

import torch

# The suite's tensors are small: one intra-op thread avoids thread hand-off overhead that dominates on a shared
# 2-core machine (measured: 10x slower small matmul loops with 2 threads under load).
torch.set_num_threads(1)
