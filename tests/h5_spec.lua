-- pf.h5: round trips, attributes, groups, provenance, errors without leaked handles.
local pf = require "phaseflow"

local tmp = os.tmpname()
local file = tmp .. ".h5"

describe("pf.h5", function()
  after_each(function() os.remove(file) end)
  teardown(function() os.remove(tmp) end)

  it("an array written reads back bit-identical, with its attributes", function()
    local a = pf.rng.new(5):normal(1000, 3) * 8.122
    pf.h5.write(file, "/stars/x", a, {unit = "kpc", n = 1000, h = {0.5, 0.5, 0.2}, ok = true})
    local b, attrs = pf.h5.read(file, "/stars/x")
    assert.are.same({1000, 3}, {b:shape()})
    assert.are.equal(0, (a - b):abs():max())
    for i = 1, 1000, 97 do assert.are.equal(a:get(i, 2), b:get(i, 2)) end
    assert.are.equal("kpc", attrs.unit)
    assert.are.equal(1000, attrs.n)
    assert.are.same({0.5, 0.5, 0.2}, attrs.h)
    assert.are.equal(1, attrs.ok)
  end)

  it("views are stored packed; 1-D and 3-D shapes survive", function()
    local a = pf.array.from{{1, 2}, {3, 4}, {5, 6}}
    pf.h5.write(file, "/col", a:col(2))
    assert.are.same({2, 4, 6}, pf.h5.read(file, "/col"):totable())
    pf.h5.write(file, "/cube", pf.array.ones{2, 3, 4} * 2.385)
    local c = pf.h5.read(file, "/cube")
    assert.are.same({2, 3, 4}, {c:shape()})
    assert.is_true(math.abs(c:sum() - 2.385 * 24) < 1e-12)
  end)

  it("replaces a dataset written twice", function()
    pf.h5.write(file, "/a", pf.array.ones(3))
    pf.h5.write(file, "/a", pf.array.zeros(5))
    assert.are.equal(5, #pf.h5.read(file, "/a"))
  end)

  it("lists groups and datasets, creates nested groups", function()
    pf.h5.mkgroup(file, "/flows/n_x")
    pf.h5.write(file, "/flows/w", pf.array.ones(2))
    local list = pf.h5.list(file, "/flows")
    assert.are.same({{name = "n_x", kind = "group"}, {name = "w", kind = "dataset"}}, list)
    assert.is_true(pf.h5.exists(file, "/flows/n_x"))
    assert.is_false(pf.h5.exists(file, "/flows/p_v"))
    assert.is_false(pf.h5.exists(file .. ".none", "/"))
    pf.h5.delete(file, "/flows/w")
    assert.is_false(pf.h5.exists(file, "/flows/w"))
  end)

  it("keeps int64 ids and byte blobs exactly", function()
    local ids = {4295806720, 6917528997577384320, -1}
    pf.h5.write_int64(file, "/source_id", ids)
    assert.are.same(ids, pf.h5.read_int64(file, "/source_id"))
    local blob = "a\0b\255" .. string.rep("x", 100)
    pf.h5.write_bytes(file, "/blob", blob)
    assert.are.equal(blob, pf.h5.read_bytes(file, "/blob"))
  end)

  it("keeps lists of strings (UTF-8, empty ones too) and stores Lua integers as int64 attributes", function()
    local labels = {"a_r", "rho_b,sun", "", "\u{3c1}_DM"}
    pf.h5.write_strings(file, "/t/label", labels, {units = "", description = "row names"})
    local back, attrs = pf.h5.read_strings(file, "/t/label")
    assert.are.same(labels, back)
    assert.are.equal("", attrs.units)
    assert.has_error(function() pf.h5.read(file, "/t/label") end)
    pf.h5.write(file, "/n", pf.array.ones(2), {iteration = 150, x = 2.5})
    assert.has_error(function() pf.h5.read_strings(file, "/n") end)
    assert.has_error(function() pf.h5.write_strings(file, "/bad", {"a", 2}) end,
      "pf.h5.write_strings: element 2 is not a string")
    local at = pf.h5.attrs(file, "/n")
    assert.are.equal("integer", math.type(at.iteration))
    assert.are.equal(2.5, at.x)
    -- the integer is stored as a 64-bit integer (h5dump names its type), the float as a double
    local out = io.popen(("h5dump -A -d /n '%s' 2>&1"):format(file)):read("a")
    assert.is_truthy(out:find('ATTRIBUTE "iteration" {%s*DATATYPE%s*H5T_STD_I64LE'), out)
    assert.is_truthy(out:find('ATTRIBUTE "x" {%s*DATATYPE%s*H5T_IEEE_F64LE'), out)
    assert.are.equal(0, pf.h5.open_count())
  end)

  it("provenance records version, commit, options and seeds", function()
    local attrs = pf.h5.provenance(file, "/run", {options = {lr = 1e-3, batch = 512}, seed = 7})
    local back = pf.h5.attrs(file, "/run")
    assert.are.equal(pf.version, back.phaseflow_version)
    assert.are.equal(attrs.git_commit, back.git_commit)
    assert.are.equal("{batch = 512, lr = 0.001}", back.options)
    assert.are.equal(7, back.seed)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT", back.created_utc)
  end)

  it("errors name the file and object, and leak no HDF5 handle", function()
    pf.h5.write(file, "/a", pf.array.ones(3))
    local cases = {
      {pf.h5.read, file, "/missing", "no object '/missing'"},
      {pf.h5.read, file .. ".none", "/a", "no such file"},
      {pf.h5.read, file, "relative", "must be absolute"},
      {pf.h5.list, file, "/a", "is not a group"},
      {pf.h5.attrs, file, "/zz", "no object '/zz'"},
      {pf.h5.write, file, "/a/b", pf.array.ones(1), "cannot create dataset '/a/b'"},
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(c[1], c[2], c[3], c[4])
      assert.is_false(ok)
      assert.matches(c[#c], err, 1, true)
    end
    local notfile = tmp .. ".txt"
    local f = assert(io.open(notfile, "w")); f:write("not hdf5"); f:close()
    assert.matches("not a readable HDF5 file", select(2, pcall(pf.h5.read, notfile, "/a")))
    os.remove(notfile)
    assert.matches("attribute 'bad'", select(2, pcall(pf.h5.write, file, "/b", pf.array.ones(1),
      {bad = {x = {}}})))
    assert.are.equal(0, pf.h5.open_count())
  end)

  it("a fixed dataset takes rows in place and changes no byte outside its storage", function()
    pf.h5.write(file, "/other", pf.array.ones(7), {unit = "kpc"})
    pf.h5.create_fixed(file, "/ck/chain", {10, 3, 2})
    pf.h5.create_fixed(file, "/ck/commit", {64}, "uint8")
    local c = pf.h5.read(file, "/ck/chain")
    assert.same({10, 3, 2}, {c:shape()})
    assert.equal(0, c:abs():max()) -- zero-filled
    local off1, size1 = pf.h5.storage(file, "/ck/chain")
    local off2, size2 = pf.h5.storage(file, "/ck/commit")
    assert.same({480, 64}, {size1, size2})
    local function bytes()
      local h = assert(io.open(file, "rb")); local t = h:read("a"); h:close(); return t
    end
    local before = bytes()
    local rows = pf.rng.new(3):normal(4, 6):reshape(4, 3, 2)
    pf.h5.write_rows(file, "/ck/chain", 3, rows)
    pf.h5.write_rows(file, "/ck/chain", 10, rows:rows(2, 2))
    pf.h5.write_rows(file, "/ck/commit", 33, ("z"):rep(32))
    local after = bytes()
    assert.equal(#before, #after) -- nothing allocated
    for i = 1, #after do
      local at = i - 1
      if before:byte(i) ~= after:byte(i) then
        assert.is_true((at >= off1 and at < off1 + size1) or (at >= off2 and at < off2 + size2),
          "byte " .. at .. " outside the datasets' storage changed")
      end
    end
    c = pf.h5.read(file, "/ck/chain")
    assert.same(rows:totable(), c:rows(3, 6):totable())
    assert.same(rows:rows(2, 2):totable(), c:rows(10, 10):totable())
    assert.same({{0, 0}, {0, 0}, {0, 0}}, c:rows(7, 7):reshape(3, 2):totable())
    assert.equal(("\0"):rep(32) .. ("z"):rep(32), pf.h5.read_bytes(file, "/ck/commit"))
    assert.same({1, 1, 1, 1, 1, 1, 1}, pf.h5.read(file, "/other"):totable())
  end)

  it("write_rows refuses rows that do not fit, other kinds and other layouts", function()
    pf.h5.create_fixed(file, "/f", {4, 3})
    pf.h5.create_fixed(file, "/b", {8}, "uint8")
    pf.h5.write(file, "/gz", pf.array.ones(4, 3))
    local cases = {
      {pf.h5.write_rows, file, "/f", 4, pf.array.ones(2, 3), "6 elements at row 3 do not fit '/f' (4 rows of 3)"},
      {pf.h5.write_rows, file, "/f", 1, pf.array.ones(5), "5 elements at row 0 do not fit"},
      {pf.h5.write_rows, file, "/f", 1, "abc", "'/f' holds no bytes"},
      {pf.h5.write_rows, file, "/b", 1, pf.array.ones(2), "'/b' holds no float64 numbers"},
      {pf.h5.write_rows, file, "/gz", 1, pf.array.ones(3), "'/gz' is not a fixed dataset"},
      {pf.h5.write_rows, file, "/none", 1, pf.array.ones(3), "no object '/none'"},
      {pf.h5.write_rows, file .. ".none", "/f", 1, pf.array.ones(3), "no such file"},
      {pf.h5.create_fixed, file, "/x", {}, "1 to 8 extents"},
      {pf.h5.create_fixed, file, "/x", {2, -1}, "extent 2 must be an integer"},
      {pf.h5.create_fixed, file, "/x", {2}, "int8", "invalid option 'int8'"},
    }
    for _, t in ipairs(cases) do
      local ok, err = pcall(t[1], table.unpack(t, 2, #t - 1))
      assert.is_false(ok)
      assert.matches(t[#t], err, 1, true)
    end
    assert.is_false(pf.fs.exists(file .. ".none"))
    assert.are.equal(0, pf.h5.open_count())
  end)

  it("files open in h5dump with the same shape and values", function()
    if os.execute("command -v h5dump > /dev/null 2>&1") ~= true then
      pending("h5dump not installed")
      return
    end
    pf.h5.write(file, "/x", pf.array.from{{1.5, 2.385}, {-3, 4e-20}})
    local p = io.popen("h5dump -d /x " .. file)
    local out = p:read("a"); p:close()
    assert.matches("SIMPLE { %( 2, 2 %) / %( 2, 2 %) }", out)
    assert.matches("1.5, 2.385", out, 1, true)
    assert.matches("-3, 4e-20", out, 1, true)
  end)
end)
