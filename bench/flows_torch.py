"""PyTorch fp32 peer of phaseflow's MAF for bench/flows.lua.

A MAF built the way nflows builds it: per transform one MADE (masked input layer, residual
blocks of GELU -> masked linear (+ context) -> GELU -> masked linear, masked output layer),
reverse permutations, standard-normal base. Two families of elementwise transform:
  affine: outputs shift and raw scale, z = x * s + shift with s = softplus(raw + s0) + 1e-3;
  spline: outputs P = 3K - 1 raw values per dimension (row i*P + j is value j of dimension
          i, as in phaseflow's maf.h) for the rational-quadratic spline of Durkan et al.
          2019 on [-BOUND, BOUND] with identity (linear) tails, parameterised as
          include/phaseflow/spline.h says: widths and heights 2B (m + (1 - mK) softmax),
          interior knot derivatives m + softplus(raw + s0), end derivatives 1, m = 1e-3
          (so raw = 0 is the identity).
          The algorithm is nflows' (unconstrained_)rational_quadratic_spline with
          tails="linear" (bin by searchsorted, the same forward formula, the quadratic's
          cancellation-free root for the inverse), written afresh and vectorised; it differs
          from nflows' MaskedPiecewiseRationalQuadraticAutoregressiveTransform only in
          the parameterisation (nflows divides the width/height logits by sqrt(hidden)
          and has no s0 in the interior derivatives), which costs the same.
Prints "name samples_per_second" lines, the same keys for both families.
Usage: python3 flows_torch.py [threads] [affine|spline]   (sgemm_gflops with affine only)
       python3 flows_torch.py --check   (self-checks of the spline: round trips, raw = 0
                                         is the identity, a 2-D density integrates to 1;
                                         exit 1 on a failure)
"""
import math
import sys
import time

import torch
import torch.nn.functional as F

ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
THREADS = int(ARGS[0]) if len(ARGS) > 0 else 2
FAMILY = ARGS[1] if len(ARGS) > 1 else "affine"
if FAMILY not in ("affine", "spline"):
    sys.exit("flows_torch.py: family '%s' (affine or spline expected)" % FAMILY)
torch.set_num_threads(THREADS)
torch.manual_seed(1)
DT = torch.float32
BINS, BOUND = 8, 3.0          # the spline rows of bench/flows.lua: K = 8 on [-3, 3]
SMIN = 1e-3                   # minimum bin width, height and derivative (as nflows)
S0 = math.log(math.expm1(1 - SMIN))


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
    """nout values per dimension, nout * d output rows as phaseflow lays them out: value j
    of dimension i at row j*d + i (affine: shifts, then raw scales) or, dim_major, at row
    i*nout + j (spline: each dimension's raw values contiguous, as nflows has them too).
    Dimension i's rows see the hidden units of degree < i + 1."""

    def __init__(self, d, h, blocks, ctx, nout=2, dim_major=False):
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
        od = ind.repeat_interleave(nout) if dim_major else ind.repeat(nout)
        self.out = MaskedLinear(h, nout * d, (od[:, None] > hd[None, :]))

    def forward(self, x, c=None):
        h = self.inp(x, c)
        for a, b in self.blocks:
            t = a(F.gelu(h), c)
            h = h + b(F.gelu(t))
        return self.out(h)


def rq_spline(x, raw, bins=BINS, bound=BOUND, inverse=False):
    """The monotone rational-quadratic spline, elementwise: x of any shape S, raw of shape
    S + (3K - 1,). Returns (y, ln|dy/dx|) of shape S; inverse=True maps back (and gives
    ln|dx/dz| of the inverse map). Identity with log-det 0 outside (-bound, bound)."""
    K = bins
    inside = (x > -bound) & (x < bound)
    v = x.clamp(-bound, bound)      # the tail rows run through harmlessly, then are dropped

    def knots(logits):
        p = SMIN + (1 - SMIN * K) * torch.softmax(logits, dim=-1)
        k = F.pad(torch.cumsum(p, dim=-1), (1, 0))
        k = 2 * bound * k - bound
        k[..., 0], k[..., -1] = -bound, bound    # ends exact: both directions share bins
        return k

    xk, yk = knots(raw[..., :K]), knots(raw[..., K:2 * K])
    d = F.pad(SMIN + F.softplus(raw[..., 2 * K:] + S0), (1, 1), value=1.0)
    # bin: largest j < K with knot_j <= v (searchsorted, clamped to a real bin)
    kn = yk if inverse else xk
    j = torch.searchsorted(kn.contiguous(), v.unsqueeze(-1).contiguous(), right=True) - 1
    j = j.clamp(0, K - 1)

    def at(t, i):
        return t.gather(-1, i).squeeze(-1)
    x0, y0, d0, d1 = at(xk, j), at(yk, j), at(d, j), at(d, j + 1)
    w, h = at(xk, j + 1) - x0, at(yk, j + 1) - y0
    s = h / w
    e = d0 + d1 - 2 * s
    if inverse:
        zr = v - y0
        qa = h * (s - d0) + zr * e
        qb = h * d0 - zr * e
        qc = -s * zr
        disc = (qb * qb - 4 * qa * qc).clamp_min(0)
        xi = (2 * qc / (-qb - torch.sqrt(disc))).clamp(0, 1)
    else:
        xi = ((v - x0) / w).clamp(0, 1)
    om = 1 - xi
    th = xi * om
    den = s + e * th
    ld = 2 * torch.log(s) + torch.log(d1 * xi * xi + 2 * s * th + d0 * om * om) \
        - 2 * torch.log(den)
    if inverse:
        y, ld = x0 + xi * w, -ld
    else:
        y = y0 + h * (s * xi * xi + d0 * th) / den
    return torch.where(inside, y, x), torch.where(inside, ld, torch.zeros_like(ld))


class MAF(torch.nn.Module):
    def __init__(self, d=3, ctx=0, transforms=8, hidden=64, blocks=2, family="affine",
                 bins=BINS, bound=BOUND):
        super().__init__()
        self.spline = family == "spline"
        self.bins, self.bound = bins, bound
        self.nout = 3 * bins - 1 if self.spline else 2
        self.mades = torch.nn.ModuleList(
            [MADE(d, hidden, blocks, ctx, self.nout, self.spline) for _ in range(transforms)])
        self.d = d

    @staticmethod
    def scale(raw):
        return F.softplus(raw + S0) + SMIN

    def log_prob(self, x, c=None):
        ld = 0
        for m in self.mades:
            o = m(x, c)
            if self.spline:
                x, l = rq_spline(x, o.view(-1, self.d, self.nout), self.bins, self.bound)
                ld = ld + l.sum(1)
            else:
                s = self.scale(o[:, self.d:])
                x = x * s + o[:, : self.d]
                ld = ld + torch.log(s).sum(1)
            x = x.flip(1)
        return ld - 0.5 * (x * x).sum(1) - 0.5 * self.d * math.log(2 * math.pi)

    @torch.no_grad()
    def sample(self, z, c=None):
        x = z
        for m in reversed(self.mades):
            y = x.flip(1)
            u = torch.zeros_like(y)
            for k in range(self.d):
                o = m(u, c)
                if self.spline:
                    raw = o[:, k * self.nout:(k + 1) * self.nout]
                    u[:, k] = rq_spline(y[:, k], raw, self.bins, self.bound, inverse=True)[0]
                else:
                    u[:, k] = (y[:, k] - o[:, k]) / self.scale(o[:, self.d + k])
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


def check():
    """Self-checks of rq_spline and the spline MAF; prints one line each, exit 1 on failure."""
    ok = True
    torch.set_num_threads(1)   # not timed: one thread is quickest on a busy machine

    def report(name, val, tol):
        nonlocal ok
        good = val <= tol
        ok = ok and good
        print("%-44s %.3g (tol %.0e) %s" % (name, val, tol, "ok" if good else "FAIL"))

    g = torch.Generator().manual_seed(7)
    P = 3 * BINS - 1
    n = 200000
    for dt, tol in ((torch.float32, 1e-4), (torch.float64, 1e-12)):
        name = str(dt).replace("torch.", "")
        # raw ~ N(0, 0.5^2), the spread a freshly made flow's MADEs give; x covers the tails
        raw = 0.5 * torch.randn(n, P, generator=g, dtype=dt)
        x = (BOUND + 1) * (2 * torch.rand(n, generator=g, dtype=dt) - 1)
        z, ld = rq_spline(x, raw)
        xb, ldb = rq_spline(z, raw, inverse=True)
        report("round trip max|x - inv(fwd(x))| %s" % name, (xb - x).abs().max().item(), tol)
        report("round trip max|ld_fwd + ld_inv| %s" % name, (ld + ldb).abs().max().item(),
               10 * tol)
        zi, _ = rq_spline(x, raw, inverse=True)
        xf, _ = rq_spline(zi, raw)
        report("round trip max|z - fwd(inv(z))| %s" % name, (xf - x).abs().max().item(), tol)
        # raw ~ N(0, 2^2): slopes down to ~1e-6, where x = inv(z) is ill-conditioned; the
        # round trip's error in z units (x error times g'(x)) stays at rounding level
        raw = 2.0 * torch.randn(n, P, generator=g, dtype=dt)
        z, ld = rq_spline(x, raw)
        xb, _ = rq_spline(z, raw, inverse=True)
        report("steep: max|x - inv(fwd(x))| g'(x) %s" % name,
               ((xb - x).abs() * torch.exp(ld)).max().item(), 10 * tol)
    # ln g' against a central difference of g (double; moderate raw)
    raw = 0.5 * torch.randn(n, P, generator=g, dtype=torch.float64)
    x = BOUND * (2 * torch.rand(n, generator=g, dtype=torch.float64) - 1)
    hh = 1e-6
    xs = x.clamp(-BOUND + 2 * hh, BOUND - 2 * hh)
    fd = (rq_spline(xs + hh, raw)[0] - rq_spline(xs - hh, raw)[0]) / (2 * hh)
    an = torch.exp(rq_spline(xs, raw)[1])
    report("max rel|g' - central difference| float64", ((fd - an).abs() / an).max().item(),
           1e-5)
    # identity at raw = 0, spline and flow
    x = torch.linspace(-5, 5, 10001, dtype=DT)
    z, ld = rq_spline(x, torch.zeros(10001, P, dtype=DT))
    report("raw = 0: max|g(x) - x| fp32", (z - x).abs().max().item(), 1e-6)
    report("raw = 0: max|ln g'(x)| fp32", ld.abs().max().item(), 1e-6)
    flow = MAF(d=3, transforms=4, hidden=16, blocks=1, family="spline")
    with torch.no_grad():
        for m in flow.mades:
            m.out.weight.zero_()
            m.out.bias.zero_()
        xx = 2 * torch.randn(1000, 3, generator=g)
        lp = flow.log_prob(xx)
        ref = torch.distributions.Normal(0.0, 1.0).log_prob(xx).sum(1)
        report("raw = 0 flow: max|log p - log N(0, I)|", (lp - ref).abs().max().item(), 1e-5)
        xs = flow.sample(xx)       # an even number of flips: the identity
        report("raw = 0 flow: max|sample(z) - z|", (xs - xx).abs().max().item(), 1e-6)
    # a random 2-D spline flow as made (its raw values reach |4| on the box): the density
    # on a 1600^2 midpoint grid over [-8, 8]^2 integrates to 1 (outside the box every
    # coordinate stays in the identity tails, so the mass there is ~1e-15)
    for dt, tol in ((torch.float32, 1e-4), (torch.float64, 3e-5)):
        torch.manual_seed(3)
        flow = MAF(d=2, transforms=3, hidden=32, blocks=1, family="spline").to(dt)
        name = str(dt).replace("torch.", "")
        with torch.no_grad():
            L, m = 8.0, 1600
            hstep = 2 * L / m
            t = -L + hstep * (torch.arange(m, dtype=dt) + 0.5)
            gx, gy = torch.meshgrid(t, t, indexing="ij")
            pts = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)
            mass = sum(torch.exp(flow.log_prob(b)).double().sum().item()
                       for b in pts.split(65536)) * hstep * hstep
            report("2-D flow: |integral p over [-8,8]^2 - 1| %s" % name, abs(mass - 1), tol)
            # the sampler inverts log_prob's map: forward(sample(z)) = z
            zz = torch.randn(20000, 2, dtype=dt)
            zf = flow.sample(zz)
            for md in flow.mades:
                zf = rq_spline(zf, md(zf).view(-1, 2, flow.nout))[0].flip(1)
            report("2-D flow: max|forward(sample(z)) - z| %s" % name,
                   (zf - zz).abs().max().item(), 1e-4 if dt == torch.float32 else 1e-12)
    print("all checks passed" if ok else "SOME CHECKS FAILED")
    return ok


def main():
    spline = FAMILY == "spline"
    flow = MAF(family=FAMILY)
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
    cflow = MAF(ctx=3, family=FAMILY)
    z = torch.randn(10000, 3, dtype=DT)
    # the context bench/flows.lua gives phaseflow, (-7.3, 0.9, 0.4) kpc, after the flow's
    # standardisation (mean (-8.122, 0, 0.0208), std (1.7, 1.7, 1.1))
    ctx = [(-7.3 + 8.122) / 1.7, 0.9 / 1.7, (0.4 - 0.0208) / 1.1]
    c = torch.tensor([ctx], dtype=DT).expand(10000, 3)
    print("sample_10000 %.6g" % rate(lambda: cflow.sample(z, c), 10000))
    if not spline:
        a = torch.randn(2000, 2000, dtype=DT)
        t0 = time.perf_counter()
        for _ in range(3):
            a @ a
        print("sgemm_gflops %.6g" % (3 * 2 * 2000 ** 3 / (time.perf_counter() - t0) / 1e9))


if __name__ == "__main__":
    if "--check" in sys.argv[1:]:
        sys.exit(0 if check() else 1)
    main()
