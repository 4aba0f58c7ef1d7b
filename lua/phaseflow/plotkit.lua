-- pf.plotkit: the numbers behind pf.plot's figures, in plain Lua on plain tables, so that
-- each choice a figure makes (its axis range, tick step, bins, contour levels) can be
-- tested without gnuplot:
--   * axis ranges from the central values and the truth, never from error bands, with the
--     band ends and central values that leave the range listed for marking;
--   * tick steps of 1, 2, 2.5 or 5 times a power of ten, few enough not to overlap;
--   * histograms on given bin edges; 2-D histograms, their highest-density levels (the
--     39.3% and 86.5% of a 2-D Gaussian's 1 and 2 sigma) and contour lines at a level.
local plotkit = {}

local function finite(v) return v == v and v > -math.huge and v < math.huge end

--- The q-quantile (0 <= q <= 1) of an ascending list, linear between order statistics.
function plotkit.quantile(sorted, q)
  local n = #sorted
  if n == 0 then return 0 / 0 end
  local h = 1 + (n - 1) * q
  local i = math.floor(h)
  if i >= n then return sorted[n] end
  return sorted[i] + (h - i) * (sorted[i + 1] - sorted[i])
end

--- The finite values of a list, ascending.
function plotkit.sorted(values)
  local s = {}
  for _, v in ipairs(values) do if finite(v) then s[#s + 1] = v end end
  table.sort(s)
  return s
end

--- A tick step for an axis of width `span`: 1, 2, 2.5 or 5 times a power of ten, the
--- smallest for which the axis holds at most `max_ticks` (default 5) ticks.
function plotkit.nice_step(span, max_ticks)
  max_ticks = math.max(2, max_ticks or 5)
  if not (span > 0) or not finite(span) then return 1 end -- luacheck: ignore 581
  local p = 10 ^ math.floor(math.log(span / max_ticks, 10))
  for _, d in ipairs({1, 10, 100}) do
    for _, m in ipairs({1, 2, 2.5, 5}) do
      local step = m * p * d
      if math.floor(span / step + 1e-9) + 1 <= max_ticks then return step end
    end
  end
  return span
end

--- gnuplot's tick command for an axis ("x" or "y") over [lo, hi]: the first multiple of a
--- nice step (plotkit.nice_step) at or above lo, the step, hi.
function plotkit.tics(axis, lo, hi, max_ticks)
  local step = plotkit.nice_step(hi - lo, max_ticks)
  local first = math.ceil(lo / step - 1e-9) * step
  return ("set %stics %.10g, %.10g, %.10g"):format(axis, first, step, hi), step
end

--- The y range of a figure from its central values and truth, not from its error bands.
--- opts: values (list of central values), sigmas (their 1 sigma, optional), truth (list,
--- optional), include (more values the range must hold), margin (fraction of the span
--- added each side, 0.08), k (10). A central value whose sigma exceeds k times the median
--- sigma does not set the range (it is marked instead: plotkit.clip_marks); the 1 sigma
--- bars of the better-measured half (sigma <= the median) do, so that a curve flat within
--- its errors still shows its typical band. Returns lo, hi (NaN and infinite values are
--- skipped; a span of 0 is widened to +-1, or +-10% of the value).
function plotkit.yrange(opts)
  local vals, sig, k = opts.values or {}, opts.sigmas, opts.k or 10
  local msig
  if sig then
    local s = plotkit.sorted(sig)
    msig = #s > 0 and plotkit.quantile(s, 0.5) or nil
  end
  local lo, hi = math.huge, -math.huge
  local function take(v) if finite(v) then lo, hi = math.min(lo, v), math.max(hi, v) end end
  for i, v in ipairs(vals) do
    local si = sig and sig[i]
    if not (msig and si and msig > 0 and si > k * msig) then take(v) end
    if msig and si and finite(si) and si <= msig then take(v - si); take(v + si) end
  end
  for _, v in ipairs(opts.truth or {}) do take(v) end
  for _, v in ipairs(opts.include or {}) do take(v) end
  if lo > hi then lo, hi = -1, 1 end
  if hi - lo <= 0 then
    local w = lo ~= 0 and 0.1 * math.abs(lo) or 1
    lo, hi = lo - w, hi + w
  end
  local m = (opts.margin or 0.08) * (hi - lo)
  return lo - m, hi + m
end

--- Where a curve's bands or central values leave [lo, hi]: for points x[i] with central
--- value c[i] and 1 sigma s[i], the band of `nsig` sigma (default 2). Returns two lists:
--- arrows {x, y, 0, dy} (gnuplot's `vectors`: at the edge, pointing out) where the band
--- leaves the range, and off {x, y_edge, c, s, side} for central values outside it.
function plotkit.clip_marks(x, c, s, lo, hi, nsig)
  nsig = nsig or 2
  local arrows, off = {}, {}
  local len = 0.045 * (hi - lo)
  for i = 1, #x do
    local ci, si = c[i], s and s[i] or 0
    if finite(ci) then
      if ci > hi or ci < lo then
        local up = ci > hi
        off[#off + 1] = {x[i], up and hi - 2.2 * len or lo + 2.2 * len, ci, si, up and "above" or "below"}
        arrows[#arrows + 1] = {x[i], up and hi - 1.6 * len or lo + 1.6 * len, 0, up and 1.6 * len or -1.6 * len}
      else
        if finite(si) and ci + nsig * si > hi then arrows[#arrows + 1] = {x[i], hi - len, 0, len} end
        if finite(si) and ci - nsig * si < lo then arrows[#arrows + 1] = {x[i], lo + len, 0, -len} end
      end
    end
  end
  return arrows, off
end

--- The corner of a panel [xlo, xhi] x [ylo, yhi] where a legend hides the fewest of the
--- points (xs[i], ys[i]): the one of "top right", "top left", "bottom right", "bottom
--- left" (in this order of preference) whose box of 45% of the width and 35% of the height
--- holds the fewest. Returns gnuplot's words for it.
function plotkit.key_corner(xs, ys, xlo, xhi, ylo, yhi)
  local best, bestn
  for _, c in ipairs({{"top right", 1, 1}, {"top left", 0, 1}, {"bottom right", 1, 0}, {"bottom left", 0, 0}}) do
    local n = 0
    for i = 1, #xs do
      local u, v = (xs[i] - xlo) / (xhi - xlo), (ys[i] - ylo) / (yhi - ylo)
      if finite(u) and finite(v) then
        local inx = c[2] == 1 and u >= 0.55 or c[2] == 0 and u <= 0.45
        local iny = c[3] == 1 and v >= 0.65 or c[3] == 0 and v <= 0.35
        if inx and iny then n = n + 1 end
      end
    end
    if not bestn or n < bestn then best, bestn = c[1], n end
  end
  return best
end

--- A band between the curves a (lower) and b (upper), both linear between the abscissae x,
--- clipped to [lo, hi]: rows {x, a, b} with the points where an edge crosses lo or hi
--- inserted, and every value clamped. Between two rows each edge is then wholly inside or
--- wholly beyond the range, so the clamped polygon is the band's visible part exactly
--- (gnuplot's `filledcurves` does not always clip a polygon far beyond the axes cleanly).
function plotkit.clip_band(x, a, b, lo, hi)
  local function clamp(v) return math.max(lo, math.min(hi, v)) end
  local rows = {}
  for i = 1, #x do
    if i > 1 and finite(a[i]) and finite(b[i]) and finite(a[i - 1]) and finite(b[i - 1]) then
      local ts = {}
      for _, e in ipairs({{a[i - 1], a[i]}, {b[i - 1], b[i]}}) do
        for _, bound in ipairs({lo, hi}) do
          local d = e[2] - e[1]
          if d ~= 0 then
            local t = (bound - e[1]) / d
            if t > 0 and t < 1 then ts[#ts + 1] = t end
          end
        end
      end
      table.sort(ts)
      for _, t in ipairs(ts) do
        rows[#rows + 1] = {x[i - 1] + t * (x[i] - x[i - 1]), clamp(a[i - 1] + t * (a[i] - a[i - 1])),
                           clamp(b[i - 1] + t * (b[i] - b[i - 1]))}
      end
    end
    rows[#rows + 1] = {x[i], finite(a[i]) and clamp(a[i]) or a[i], finite(b[i]) and clamp(b[i]) or b[i]}
  end
  return rows
end

--- Equal-width bin edges: nb bins from lo to hi.
function plotkit.edges(lo, hi, nb)
  local e = {}
  for i = 0, nb do e[i + 1] = lo + (hi - lo) * i / nb end
  return e
end

--- A histogram of `values` on ascending bin `edges`, normalised to unit area over all the
--- finite values (so the part beyond the edges is missing from the area). Returns rows
--- {centre, density, error (Poisson)} and the fraction of values outside the edges.
function plotkit.histogram(values, edges)
  local nb = #edges - 1
  local c = {}
  for i = 1, nb do c[i] = 0 end
  local n, outside = 0, 0
  local lo, hi = edges[1], edges[nb + 1]
  for _, v in ipairs(values) do
    if finite(v) then
      n = n + 1
      if v < lo or v > hi then
        outside = outside + 1
      else
        -- bisect the bin (edges need not be equal)
        local a, b = 1, nb
        while a < b do
          local m = (a + b + 1) // 2
          if v >= edges[m] then a = m else b = m - 1 end
        end
        c[a] = c[a] + 1
      end
    end
  end
  local rows = {}
  for i = 1, nb do
    local w = edges[i + 1] - edges[i]
    local d = n > 0 and n * w or 1
    rows[i] = {(edges[i] + edges[i + 1]) / 2, c[i] / d, math.sqrt(c[i]) / d}
  end
  return rows, n > 0 and outside / n or 0
end

--- Bin edges shared by the histograms of Fig. 9: equal widths, one bin centred on `centre`
--- (default 0), the range centre +- the larger distance to the q and 1 - q quantiles
--- (q default 0.01) of `values`, the width from the Freedman-Diaconis rule (2 IQR n^(-1/3)),
--- between min_bins and max_bins bins (default 21 and 61, odd).
function plotkit.centred_edges(values, opts)
  opts = opts or {}
  local centre, q = opts.centre or 0, opts.q or 0.01
  local s = plotkit.sorted(values)
  if #s < 2 then return plotkit.edges(centre - 1, centre + 1, 21) end
  local half = math.max(math.abs(plotkit.quantile(s, q) - centre), math.abs(plotkit.quantile(s, 1 - q) - centre))
  if not (half > 0) then half = 1 end -- luacheck: ignore 581
  local iqr = plotkit.quantile(s, 0.75) - plotkit.quantile(s, 0.25)
  local w = 2 * iqr * (#s) ^ (-1 / 3)
  local nb = w > 0 and math.floor(2 * half / w) or (opts.max_bins or 61)
  nb = math.max(opts.min_bins or 21, math.min(opts.max_bins or 61, nb))
  if nb % 2 == 0 then nb = nb + 1 end
  -- an odd number of equal bins on a range symmetric about the centre: one bin centred there
  return plotkit.edges(centre - half, centre + half, nb)
end

--- A 2-D histogram of the pairs (xs[i], ys[i]) on nx x ny bins over [xlo, xhi] x [ylo, yhi]:
--- grid[j][i] (j the y bin, i the x bin) counts; with smooth = true, convolved with the
--- 3 x 3 kernel (1 2 1) x (1 2 1) / 16 (which keeps the total). Returns the grid and the
--- geometry {x0, dx, y0, dy, nx, ny} (x0, y0: the first bin's centre). smooth = n > 1
--- applies the kernel n times.
function plotkit.hist2d(xs, ys, xlo, xhi, ylo, yhi, nx, ny, smooth)
  local g = {}
  for j = 1, ny do
    g[j] = {}
    for i = 1, nx do g[j][i] = 0 end
  end
  local dx, dy = (xhi - xlo) / nx, (yhi - ylo) / ny
  for k = 1, #xs do
    local x, y = xs[k], ys[k]
    if finite(x) and finite(y) and x >= xlo and x <= xhi and y >= ylo and y <= yhi then
      local i = math.min(nx, math.floor((x - xlo) / dx) + 1)
      local j = math.min(ny, math.floor((y - ylo) / dy) + 1)
      g[j][i] = g[j][i] + 1
    end
  end
  if smooth then
    local w = {1, 2, 1}
    local function pass(src, horizontal)
      local out = {}
      for j = 1, ny do
        out[j] = {}
        for i = 1, nx do
          local s, tw = 0, 0
          for d = -1, 1 do
            local ii, jj = horizontal and i + d or i, horizontal and j or j + d
            if ii >= 1 and ii <= nx and jj >= 1 and jj <= ny then
              s, tw = s + w[d + 2] * src[jj][ii], tw + w[d + 2]
            end
          end
          out[j][i] = s / tw
        end
      end
      return out
    end
    for _ = 1, smooth == true and 1 or smooth do g = pass(pass(g, true), false) end
  end
  return g, {x0 = xlo + dx / 2, dx = dx, y0 = ylo + dy / 2, dy = dy, nx = nx, ny = ny}
end

--- Highest-density levels of a grid: for each fraction f of `fractions` (e.g. {0.393,
--- 0.865}), the value L such that the cells of grid value >= L hold a fraction f of the
--- grid's total. Returns the list of levels (descending for ascending fractions).
function plotkit.hpd_levels(grid, fractions)
  local cells, total = {}, 0
  for _, row in ipairs(grid) do
    for _, v in ipairs(row) do cells[#cells + 1] = v; total = total + v end
  end
  table.sort(cells, function(a, b) return a > b end)
  local levels = {}
  for k, f in ipairs(fractions) do
    local acc, lev = 0, cells[#cells]
    for _, v in ipairs(cells) do
      acc = acc + v
      if acc >= f * total then lev = v; break end
    end
    levels[k] = lev
  end
  return levels
end

--- The contour line of a grid at `level` (marching squares on the cell centres, linear
--- interpolation along cell edges): a list of segments {{x1, y1}, {x2, y2}} in the
--- coordinates of `geo` (plotkit.hist2d's second result). The grid is padded with zeros,
--- so contours close at the grid's edge.
function plotkit.contour(grid, geo, level)
  local nx, ny = geo.nx, geo.ny
  local function val(i, j)
    if i < 1 or j < 1 or i > nx or j > ny then return 0 end
    return grid[j][i]
  end
  local function px(i) return geo.x0 + (i - 1) * geo.dx end
  local function py(j) return geo.y0 + (j - 1) * geo.dy end
  local segs = {}
  -- the point where the edge between (i1, j1) and (i2, j2) crosses the level
  local function cross(i1, j1, i2, j2)
    local a, b = val(i1, j1), val(i2, j2)
    local t = (level - a) / (b - a)
    return {px(i1) + t * (px(i2) - px(i1)), py(j1) + t * (py(j2) - py(j1))}
  end
  for j = 0, ny do
    for i = 0, nx do
      -- corners: 1 (i, j), 2 (i+1, j), 3 (i+1, j+1), 4 (i, j+1)
      local c = {{i, j}, {i + 1, j}, {i + 1, j + 1}, {i, j + 1}}
      local inside, idx = {}, 0
      for k = 1, 4 do
        inside[k] = val(c[k][1], c[k][2]) >= level
        if inside[k] then idx = idx + 2 ^ (k - 1) end
      end
      if idx ~= 0 and idx ~= 15 then
        local pts = {}
        for k = 1, 4 do
          local k2 = k % 4 + 1
          if inside[k] ~= inside[k2] then
            pts[#pts + 1] = cross(c[k][1], c[k][2], c[k2][1], c[k2][2])
          end
        end
        if #pts == 2 then
          segs[#segs + 1] = {pts[1], pts[2]}
        elseif #pts == 4 then
          -- a saddle: pair the crossings by the cell's mean
          local m = (val(c[1][1], c[1][2]) + val(c[2][1], c[2][2]) + val(c[3][1], c[3][2]) + val(c[4][1], c[4][2])) / 4
          if (m >= level) == inside[1] then
            segs[#segs + 1] = {pts[1], pts[2]}; segs[#segs + 1] = {pts[3], pts[4]}
          else
            segs[#segs + 1] = {pts[4], pts[1]}; segs[#segs + 1] = {pts[2], pts[3]}
          end
        end
      end
    end
  end
  return segs
end

--- Rows for gnuplot from contour segments: x y per point, a blank row (an empty table)
--- between segments, so `with lines` draws each segment alone.
function plotkit.segment_rows(segs)
  local rows = {}
  for _, s in ipairs(segs) do
    rows[#rows + 1] = {s[1][1], s[1][2]}
    rows[#rows + 1] = {s[2][1], s[2][2]}
    rows[#rows + 1] = {}
  end
  return rows
end

return plotkit
