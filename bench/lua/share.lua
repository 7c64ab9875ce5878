-- commentsvc: POST /api/v1/shares (form-encoded, as a beacon sends it) for one hot article.
-- Every request comes from a distinct reader: a browser User-Agent ending in a unique
-- "reader-…" tag, so de-duplication (IP prefix + UA + article + network) merges none.
local body = "article=" .. os.getenv("BENCH_ARTICLE") .. "&url=" .. os.getenv("BENCH_URL_ENC") ..
  "&network="
local tag = os.getenv("BENCH_TAG") or "0"
local networks = {"facebook", "x", "whatsapp", "linkedin", "telegram", "reddit", "bluesky", "email"}
local counter = 0

function request()
  counter = counter + 1
  -- The widget's own origin (a beacon from its frame): clicks from other origins do not count.
  local origin = "http://" .. wrk.host .. (wrk.port and (":" .. wrk.port) or "")
  local ua = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0 reader-" ..
    tag .. "-" .. tostring(tid) .. "-" .. tostring(counter)
  local headers = {["Content-Type"] = "application/x-www-form-urlencoded", ["User-Agent"] = ua,
    ["Origin"] = origin}
  return wrk.format("POST", nil, headers, body .. networks[counter % #networks + 1])
end
