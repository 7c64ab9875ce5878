-- Gives each wrk thread a number (tid), so request counters are unique across threads.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
