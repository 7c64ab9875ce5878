-- Isso: POST /new?uri=… (JSON), one distinct comment per request, Origin set to its host.
local origin = os.getenv("BENCH_ORIGIN")
local tag = os.getenv("BENCH_TAG") or "0"
-- One sender for every post (its text still differs) when given: the same-sender workload.
local email = os.getenv("BENCH_EMAIL")
local name = os.getenv("BENCH_NAME")
local counter = 0
local headers = {["Content-Type"] = "application/json", ["Origin"] = origin}

function request()
  counter = counter + 1
  local n = tag .. "-" .. tostring(tid) .. "-" .. tostring(counter)
  local body = '{"text":"Comment ' .. n .. ': keep the harbour light lit, it brings the boats home.",' ..
    '"author":"' .. (name or ("Reader " .. n)) .. '","email":"' ..
    (email or ("reader-" .. n .. "@example.com")) .. '","website":null,' ..
    '"title":"Benchmark posts"}'
  return wrk.format("POST", nil, headers, body)
end
