-- The phaseflow executable: options, scripts, strict globals, the REPL, Ctrl-C,
-- and the same library under stock lua5.4.
local pf = require "phaseflow"
local support = require "support"

describe("phaseflow executable", function()
  it("-e runs code with pf predefined and prints the version", function()
    local out, rc = support.phaseflow{"-e", 'print(require("phaseflow").version, pf.version)'}
    assert.are.equal(0, rc)
    assert.are.equal(pf.version .. "\t" .. pf.version .. "\n", out)
  end)

  it("--version names the BLAS kernel and the thread count", function()
    local out, rc = support.phaseflow{"--version"}
    assert.are.equal(0, rc)
    assert.matches("^phaseflow " .. pf.version:gsub("%.", "%%.") .. " %(git ", out)
    assert.matches("BLAS: OpenBLAS[^\n]*; kernel %w+", out)
    assert.matches("threads: %d+", out)
  end)

  it("--help describes usage; a bad option fails with it", function()
    local out, rc = support.phaseflow{"--help"}
    assert.are.equal(0, rc)
    assert.matches("usage: phaseflow", out)
    out, rc = support.phaseflow{"--frobnicate"}
    assert.are.equal(1, rc)
    assert.matches("unrecognized option '%-%-frobnicate'", out)
  end)

  it("runs a script with its arguments in arg", function()
    local script = support.tempfile([[
      local pf = require "phaseflow"
      print(arg[0] ~= nil, arg[1], arg[2], #arg, pf.array.ones(3):sum())
    ]], ".lua")
    local out, rc = support.phaseflow{script, "2.385", "x"}
    os.remove(script)
    assert.are.equal(0, rc)
    assert.are.equal("true\t2.385\tx\t2\t3.0\n", out)
  end)

  it("scripts run with strict globals: a misspelt name is an error", function()
    local script = support.tempfile("local x = 1\nprint(xx + 1)\n", ".lua")
    local out, rc = support.phaseflow{script}
    assert.are.equal(1, rc)
    assert.matches("undefined global 'xx'", out)
    assert.matches("stack traceback", out)
    out, rc = support.phaseflow{"--no-strict", script}
    os.remove(script)
    assert.are.equal(1, rc)
    assert.matches("attempt to perform arithmetic on a nil value", out)
  end)

  it("-l loads a library into a global", function()
    local out, rc = support.phaseflow{"-l", "phaseflow.serialize", "-e", "print(serialize.dump{b = 1, a = 2})"}
    assert.are.equal(0, rc)
    assert.are.equal("{a = 2, b = 1}\n", out)
  end)

  it("the REPL prints expressions, summarises big arrays, survives errors", function()
    local input = support.tempfile(table.concat({
      "1+1",
      "x = pf.array.zeros(1000000, 3)",
      "x",
      "for i = 1, 2 do",
      "  print('line', i)",
      "end",
      "error('boom')",
      "'still here'",
    }, "\n") .. "\n")
    local out, rc = support.run(support.quote(support.exe) .. " < " .. input)
    os.remove(input)
    assert.are.equal(0, rc)
    assert.matches("^2\n", out)
    assert.matches("array%(1000000x3, double%) min 0 max 0 mean 0\n", out)
    assert.matches("line\t1\nline\t2\n", out)
    assert.matches("boom", out)
    assert.matches("still here", out)
  end)

  it("Ctrl-C interrupts a long computation and the session goes on", function()
    local input = support.tempfile("while true do end\nprint('after', 1 + 1)\n")
    local cmd = support.quote(support.exe) .. " < " .. input .. " & pid=$!; sleep 1; kill -INT $pid; wait $pid"
    local out, rc = support.run(cmd)
    os.remove(input)
    assert.matches("interrupted!", out)
    assert.matches("after\t2", out)
    assert.are.equal(0, rc)
  end)

  it("the module loads in stock lua5.4 as the README says", function()
    local out, rc = support.run([[cd .. && LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/lua/?.so;;" ]]
      .. [[lua5.4 -e 'local pf = require "phaseflow"; print(pf.version, pf.array.ones(2):sum())']])
    assert.are.equal(0, rc)
    assert.are.equal(pf.version .. "\t2.0\n", out)
  end)
end)

describe("pf.config and pf.wtime", function()
  it("report the build and the BLAS in use, and set threads", function()
    local c = pf.config()
    assert.are.equal(pf.version, c.version)
    assert.matches("OpenBLAS", c.blas)
    assert.is_true(#c.blas_core > 0)
    assert.are_not.equal("Prescott", c.blas_core)
    local before = c.threads
    assert.are.equal(1, pf.config{threads = 1}.threads)
    pf.config{threads = before}
    assert.matches("unknown option 'thread'", select(2, pcall(pf.config, {thread = 2})))
  end)
  it("wtime is monotonic seconds", function()
    local t0 = pf.wtime()
    local t1 = pf.wtime()
    assert.is_true(t1 >= t0 and t1 - t0 < 1)
  end)
end)
