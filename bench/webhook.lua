-- wrk script: every request is one payment notification for a different order, posted to the
-- sandbox webhook as the pay page posts it. Notifications come from bench/sign_notifications.py;
-- each wrk thread takes every n-th line so no notification is sent twice.
local counter = 0

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
end

function init(args)
  local path, thread_count = args[1], tonumber(args[2])
  notifications = {}
  local line_number = 0
  for line in io.lines(path) do
    if line_number % thread_count == index then
      local signature, body = line:match("^([^\t]+)\t(.+)$")
      table.insert(notifications, { signature = signature, body = body })
    end
    line_number = line_number + 1
  end
  next_notification = 1
end

function request()
  local notification = notifications[next_notification]
  if notification == nil then
    -- Out of orders: answers 404 and shows up as a non-2xx response (lower WEBHOOK_DURATION).
    return wrk.format("POST", "/out-of-notifications")
  end
  next_notification = next_notification + 1
  local headers = {
    ["Content-Type"] = "application/json",
    ["Sandbox-Signature"] = notification.signature,
  }
  return wrk.format("POST", "/api/v1/payments/sandbox/webhook", headers, notification.body)
end
