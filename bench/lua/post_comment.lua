-- commentsvc: POST /api/v1/comments as JSON. Each request has its own text, name and email
-- (many readers, not one: the duplicate rule would refuse a repeated text). The form token
-- comes from GET /api/v1/form-token before the run (usable at once: MIN_SUBMIT_SECONDS=0).
local token = os.getenv("BENCH_TOKEN")
local article = os.getenv("BENCH_ARTICLE")
local page = os.getenv("BENCH_URL")
local tag = os.getenv("BENCH_TAG") or "0"
-- One sender for every post (its text still differs) when given: the same-sender workload.
local email = os.getenv("BENCH_EMAIL")
local name = os.getenv("BENCH_NAME")
local counter = 0
local headers = {["Content-Type"] = "application/json"}

function request()
  counter = counter + 1
  local n = tag .. "-" .. tostring(tid) .. "-" .. tostring(counter)
  local body = '{"article":"' .. article .. '","url":"' .. page .. '","title":"Benchmark posts",' ..
    '"comment":"Comment ' .. n .. ': keep the harbour light lit, it brings the boats home.",' ..
    '"name":"' .. (name or ("Reader " .. n)) .. '","email":"' ..
    (email or ("reader-" .. n .. "@example.com")) .. '",' ..
    '"token":"' .. token .. '"}'
  return wrk.format("POST", nil, headers, body)
end
