"""Run by tests/train/test_distributed.py under torchrun (2 processes, gloo): a model of lstmkit layers
sharded by FSDP2 (``fully_shard``) trains 3 steps, each rank on half the batch; rank 0 prints the largest
difference of every parameter from the same model trained on the whole batch in one process."""

import copy
import sys

import torch
import torch.distributed as dist
from torch.distributed.fsdp import fully_shard

import lstmkit

dist.init_process_group("gloo")
rank = dist.get_rank()
backend = sys.argv[1]
torch.manual_seed(0)


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = lstmkit.LSTM(6, 8, num_layers=2, layer_norm=True, peephole=True, backend=backend)
        self.gru = lstmkit.GRU(8, 8, backend=backend)
        self.out = torch.nn.Linear(8, 3)

    def forward(self, x):
        return self.out(self.gru(self.lstm(x)[0])[0])


whole = Model()
initial = copy.deepcopy(whole.state_dict())
sharded = copy.deepcopy(whole)
fully_shard(sharded.lstm)
fully_shard(sharded.gru)
fully_shard(sharded)
x = torch.randn(7, 4, 6, generator=torch.Generator().manual_seed(1))
opts = [torch.optim.SGD(m.parameters(), lr=0.5) for m in (sharded, whole)]
for _ in range(3):
    for model, opt, batch in ((sharded, opts[0], x[:, 2 * rank: 2 * rank + 2]), (whole, opts[1], x)):
        model(batch).pow(2).mean().backward()
        opt.step()
        opt.zero_grad()
state = {k: (v.full_tensor() if hasattr(v, "full_tensor") else v) for k, v in sharded.state_dict().items()}
diff = max(float((state[k] - v).abs().max()) for k, v in whole.state_dict().items())
moved = max(float((v - initial[k]).abs().max()) for k, v in whole.state_dict().items())
if rank == 0:
    print(f"max |FSDP - one process| {diff:.3g}; max |trained - initial| {moved:.3g}")
dist.destroy_process_group()
