-- wrk script: every request is one checkout by a different customer (each has a full cart),
-- with a fresh Idempotency-Key. Tokens come from bench/mint_tokens.py; each wrk thread takes
-- every n-th token so no customer checks out twice.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  -- args[3]: the scenario, in every Idempotency-Key, so that a customer's checkout in a later
  -- scenario is a new one, not a replay of the earlier.
  local path, thread_count = args[1], tonumber(args[2])
  scenario = args[3] or "bench"
  tokens = {}
  local line_number = 0
  for line in io.lines(path) do
    if line_number % thread_count == index then
      table.insert(tokens, line)
    end
    line_number = line_number + 1
  end
  next_token = 1
end

function request()
  local token = tokens[next_token]
  if token == nil then
    -- Out of customers: an empty request path answers 404 and shows up as a non-2xx response.
    return wrk.format("POST", "/out-of-customers")
  end
  next_token = next_token + 1
  local headers = {
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = scenario .. "-" .. index .. "-" .. next_token,
    ["Content-Type"] = "application/json",
  }
  return wrk.format("POST", "/api/v1/orders", headers, "{}")
end
