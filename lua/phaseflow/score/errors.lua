-- pf.score's errors: a mistake a user can fix (a missing or old results file, a bad truth)
-- raises a table with `message` and __tostring, which pf.score.is_error tells from a bug.
local errors = {}

local ScoreError = {}
ScoreError.__index = ScoreError
ScoreError.__tostring = function(e) return e.message end

--- Raise a score error; `fmt` and the rest as string.format takes them.
function errors.fail(fmt, ...)
  error(setmetatable({message = fmt:format(...)}, ScoreError), 0)
end

--- True when `e` is an error raised for a mistake in the inputs (not a bug).
function errors.is_error(e) return getmetatable(e) == ScoreError end

--- True for a finite number.
function errors.finite(x) return x == x and x > -math.huge and x < math.huge end

return errors
