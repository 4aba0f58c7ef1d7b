-- pf.fs: folders without a shell, atomic commits, output-folder locks, content digests
-- and programs run without a shell.
local pf = require "phaseflow"

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  return d .. " it's ü" -- a name a shell command built by concatenation would break on
end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

describe("pf.fs", function()
  it("mkdirs makes every missing folder and refuses a path through a file", function()
    local d = tmpdir()
    pf.fs.mkdirs(d .. "/a/b/c")
    pf.fs.mkdirs(d .. "/a/b/c") -- again: nothing to do
    assert.is_truthy(pf.fs.write(d .. "/a/b/c/x.txt", "x") == nil)
    assert.are.equal("x", read(d .. "/a/b/c/x.txt"))
    assert.has_error(function() pf.fs.mkdirs(d .. "/a/b/c/x.txt/y") end)
    pf.fs.run({"rm", "-rf", d})
  end)

  it("write replaces a file whole and leaves no .part", function()
    local d = tmpdir()
    pf.fs.mkdirs(d)
    local f = d .. "/r.txt"
    pf.fs.write(f, "old")
    pf.fs.write(f, "new content")
    assert.are.equal("new content", read(f))
    assert.is_nil(read(f .. ".part"))
    -- a writer that fails leaves the old file as it was
    assert.has_error(function() pf.fs.replace(f, function(part) pf.fs.write(part, "half"); error("killed") end) end)
    assert.are.equal("new content", read(f))
    pf.fs.run({"rm", "-rf", d})
  end)

  it("lock is exclusive, names its holder, and is free again once released", function()
    local d = tmpdir()
    pf.fs.mkdirs(d)
    local a = pf.fs.lock(d .. "/LOCK", "pid 1, first")
    assert.is_truthy(a)
    local b, holder = pf.fs.lock(d .. "/LOCK", "pid 2, second")
    assert.is_nil(b)
    assert.are.equal("pid 1, first", holder)
    a:release()
    local c = pf.fs.lock(d .. "/LOCK", "pid 3, third")
    assert.is_truthy(c)
    assert.are.equal("pid 3, third", read(d .. "/LOCK"))
    c:release()
    pf.fs.run({"rm", "-rf", d})
  end)

  it("digest is XXH3-64 of the bytes: known values, independent of the name", function()
    local d = tmpdir()
    pf.fs.mkdirs(d)
    pf.fs.write(d .. "/empty", "")
    assert.are.equal("2d06800538d394c2", pf.fs.digest(d .. "/empty")) -- XXH3_64bits of no bytes
    pf.fs.write(d .. "/a", "phaseflow")
    pf.fs.write(d .. "/b", "phaseflow")
    pf.fs.write(d .. "/c", "phaseflox")
    assert.are.equal(pf.fs.digest(d .. "/a"), pf.fs.digest(d .. "/b"))
    assert.are_not.equal(pf.fs.digest(d .. "/a"), pf.fs.digest(d .. "/c"))
    assert.has_error(function() pf.fs.digest(d .. "/none") end)
    pf.fs.run({"rm", "-rf", d})
  end)

  it("run passes paths as they are, in a given folder, with its output to a log", function()
    local d = tmpdir()
    pf.fs.mkdirs(d)
    assert.are.equal(3, pf.fs.run({"sh", "-c", "pwd; echo \"$1\"; exit 3", "sh", "a 'quoted' arg"},
                                  {cwd = d, log = "out.log"}))
    local real = pf.fs.run({"test", "-f", d .. "/out.log"})
    assert.are.equal(0, real)
    local log = read(d .. "/out.log")
    assert.is_truthy(log:find("a 'quoted' arg", 1, true), log)
    assert.has_error(function() pf.fs.run({"no-such-program-here"}) end,
      "pf.fs.run: cannot run no-such-program-here: No such file or directory")
    pf.fs.run({"rm", "-rf", d})
  end)
end)
