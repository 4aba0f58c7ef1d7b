"""PyTorch fp32 peer of phaseflow's MAF for bench/flows.lua.

A MAF built the way nflows builds it: per transform one MADE (masked input layer, residual
blocks of GELU -> masked linear (+ context) -> GELU -> masked linear, masked output of
shift and raw scale), affine z = x * s + shift with s = softplus(raw + s0) + 1e-3, reverse
permutations, standard-normal base. Prints "name samples_per_second" lines.
Usage: python3 flows_torch.py [threads]
"""
import math
import sys
import time

import torch
import torch.nn.functional as F

THREADS = int(sys.argv[1]) if len(sys.argv) > 1 else 2
torch.set_num_threads(THREADS)
torch.manual_seed(1)
DT = torch.float32


class MaskedLinear(torch.nn.Linear):
    def __init__(self, fin, fout, mask, ctx=0):
        super().__init__(fin, fout)
        self.register_buffer("mask", mask.to(DT))
        self.ctx = torch.nn.Linear(ctx, fout, bias=False) if ctx else None

    def forward(self, x, c=None):
        y = F.linear(x, self.weight * self.mask, self.bias)
        if self.ctx is not None:
            y = y + self.ctx(c)
        return y


class MADE(torch.nn.Module):
    def __init__(self, d, h, blocks, ctx):
        super().__init__()
        m1, m0 = max(1, d - 1), min(1, d - 1)
        hd = torch.tensor([k % m1 + m0 for k in range(h)])
        ind = torch.arange(1, d + 1)
        self.inp = MaskedLinear(d, h, (hd[:, None] >= ind[None, :]), ctx)
        mh = hd[:, None] >= hd[None, :]
        self.blocks = torch.nn.ModuleList()
        for _ in range(blocks):
            a = MaskedLinear(h, h, mh, ctx)
            b = MaskedLinear(h, h, mh)
            torch.nn.init.uniform_(b.weight, -1e-3, 1e-3)
            torch.nn.init.uniform_(b.bias, -1e-3, 1e-3)
            self.blocks.append(torch.nn.ModuleList([a, b]))
        od = torch.cat([ind, ind])
        self.out = MaskedLinear(h, 2 * d, (od[:, None] > hd[None, :]))
        self.d = d

    def forward(self, x, c=None):
        h = self.inp(x, c)
        for a, b in self.blocks:
            t = a(F.gelu(h), c)
            h = h + b(F.gelu(t))
        o = self.out(h)
        return o[:, : self.d], o[:, self.d:]


class MAF(torch.nn.Module):
    S0 = math.log(math.expm1(1 - 1e-3))

    def __init__(self, d=3, ctx=0, transforms=8, hidden=64, blocks=2):
        super().__init__()
        self.mades = torch.nn.ModuleList(
            [MADE(d, hidden, blocks, ctx) for _ in range(transforms)])
        self.d = d

    def scale(self, raw):
        return F.softplus(raw + self.S0) + 1e-3

    def log_prob(self, x, c=None):
        ld = 0
        for m in self.mades:
            shift, raw = m(x, c)
            s = self.scale(raw)
            x = (x * s + shift).flip(1)
            ld = ld + torch.log(s).sum(1)
        return ld - 0.5 * (x * x).sum(1) - 0.5 * self.d * math.log(2 * math.pi)

    @torch.no_grad()
    def sample(self, z, c=None):
        x = z
        for m in reversed(self.mades):
            y = x.flip(1)
            u = torch.zeros_like(y)
            for k in range(self.d):
                shift, raw = m(u, c)
                u[:, k] = (y[:, k] - shift[:, k]) / self.scale(raw[:, k])
            x = u
        return x


def rate(fn, n, secs=1.5):
    fn()
    t0 = time.perf_counter()
    reps = 0
    while True:
        fn()
        reps += 1
        dt = time.perf_counter() - t0
        if dt > secs:
            return n * reps / dt


def main():
    flow = MAF()
    opt = torch.optim.Adam(flow.parameters(), lr=1e-3)
    for b in (512, 2048, 8192):
        x = torch.randn(b, 3, dtype=DT)

        def step():
            opt.zero_grad()
            loss = -flow.log_prob(x).mean()
            loss.backward()
            opt.step()
        print("train_%d %.6g" % (b, rate(step, b)))
    x = torch.randn(65536, 3, dtype=DT)
    with torch.no_grad():
        print("log_prob_65536 %.6g" % rate(lambda: flow.log_prob(x), 65536))
    xg = torch.randn(10000, 3, dtype=DT)

    def grad():
        xr = xg.clone().requires_grad_(True)
        flow.log_prob(xr).sum().backward(inputs=[xr])
        return xr.grad
    print("grad_10000 %.6g" % rate(grad, 10000))
    cflow = MAF(ctx=3)
    z = torch.randn(10000, 3, dtype=DT)
    # the context bench/flows.lua gives phaseflow, (-7.3, 0.9, 0.4) kpc, after the flow's
    # standardisation (mean (-8.122, 0, 0.0208), std (1.7, 1.7, 1.1))
    ctx = [(-7.3 + 8.122) / 1.7, 0.9 / 1.7, (0.4 - 0.0208) / 1.1]
    c = torch.tensor([ctx], dtype=DT).expand(10000, 3)
    print("sample_10000 %.6g" % rate(lambda: cflow.sample(z, c), 10000))
    a = torch.randn(2000, 2000, dtype=DT)
    t0 = time.perf_counter()
    for _ in range(3):
        a @ a
    print("sgemm_gflops %.6g" % (3 * 2 * 2000 ** 3 / (time.perf_counter() - t0) / 1e9))


if __name__ == "__main__":
    main()
