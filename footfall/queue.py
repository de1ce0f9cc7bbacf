"""The queue protocol: how events travel through Redis, in one place for collectors, drainers and tools.

Each stream is a Redis list (`keys.queue`). Collectors push on the LEFT (the PUSH script: rate limits,
queue limits and the push itself, all or nothing); drainers take from the RIGHT, so the oldest waiting
event is always at index -1 (`OLDEST`). A drainer moves what it takes into its own processing list
(`keys.processing`) atomically and trims it only once the store has the batch: an event is in exactly one
list until it is stored. A dead drainer's processing list is put back at the queue's consuming end
(REQUEUE). Each service keeps its own client (the collector's is asynchronous and pipelines pushes; the
drainer's blocks); both run these scripts and follow this orientation.
"""

from __future__ import annotations

from typing import Any

import orjson

from footfall.codec import parse_datetime

OLDEST = -1  # list index of the oldest waiting event: collectors push left, drainers take right

PUSH = """
-- KEYS: ip window, site window, stats hash, then one queue per stream
-- ARGV: ip limit, site limit, window seconds, max queue, then per stream: its name, its event count and
-- its events joined by newlines (one argument, not one each: packing arguments is the client's cost)
local window, max_queue = tonumber(ARGV[3]), tonumber(ARGV[4])
for i = 1, 2 do
  local limit = tonumber(ARGV[i])
  if limit > 0 then
    local n = redis.call('INCR', KEYS[i])
    if n == 1 then redis.call('EXPIRE', KEYS[i], window) end
    if n > limit then return {-i, redis.call('TTL', KEYS[i])} end
  end
end
local streams = #KEYS - 3
for q = 1, streams do  -- the whole request must fit: a queue never holds more than max_queue
  if redis.call('LLEN', KEYS[3 + q]) + tonumber(ARGV[3 + 3 * q]) > max_queue then return {0, q} end
end
for q = 1, streams do
  local name, n, events = ARGV[2 + 3 * q], tonumber(ARGV[3 + 3 * q]), ARGV[4 + 3 * q]
  local items, start = {}, 1
  for _ = 1, n do
    local stop = string.find(events, '\\n', start, true) or (#events + 1)
    items[#items + 1] = string.sub(events, start, stop - 1)
    start = stop + 1
    if #items == 1000 then redis.call('LPUSH', KEYS[3 + q], unpack(items)); items = {} end
  end
  if #items > 0 then redis.call('LPUSH', KEYS[3 + q], unpack(items)) end
  redis.call('HINCRBY', KEYS[3], 'accepted:' .. name, n)
end
return {1, 0}
"""
WINDOW_S = 60  # rate windows are counted per minute

# Move the n oldest waiting events (the right end) to the processing list's left end, keeping their
# order, in three commands; returned oldest first. n stays within what unpack() can take.
TAKE = """
local items = redis.call('LRANGE', KEYS[1], -tonumber(ARGV[1]), -1)
if #items == 0 then return items end
redis.call('LTRIM', KEYS[1], 0, -(#items + 1))
local oldest_first = {}
for i = #items, 1, -1 do oldest_first[#oldest_first + 1] = items[i] end
redis.call('LPUSH', KEYS[2], unpack(oldest_first))
return oldest_first
"""
MAX_TAKE = 4000
# Put a processing list back at the consuming end of its queue, oldest event last out-first in.
REQUEUE = """
local n = 0
while redis.call('LMOVE', KEYS[2], KEYS[1], 'LEFT', 'RIGHT') do n = n + 1 end
return n
"""


# Ack a stored batch by identity, never by count: remove exactly these events from the processing list. An
# event's identity is its id, which the collector writes first (`{"_id":"<id>",…`); anything else (an event
# queued by hand, or before ids came first) is its own identity. In the usual case the batch is the list's
# oldest (rightmost) items, in order, and one LTRIM removes them. Otherwise (another drainer re-queued the
# list while its owner was paused, and the owner has taken newer events since) each is removed where it
# still is, and what is not there is left alone: the list's other events are not stored.
# ARGV: the batch's identities, oldest first. Returns how many events were removed.
ACK = """
local function identity(item)
  if string.sub(item, 1, 8) == '{"_id":"' then
    local stop = string.find(item, '"', 9, true)
    if stop then return string.sub(item, 9, stop - 1) end
  end
  return item
end
local n = #ARGV
local tail = redis.call('LRANGE', KEYS[1], -n, -1)
local in_order = #tail == n
for i = 1, #tail do
  if identity(tail[i]) ~= ARGV[n - i + 1] then in_order = false; break end
end
if in_order then
  redis.call('LTRIM', KEYS[1], 0, -(n + 1))
  return n
end
local wanted, removed = {}, 0
for i = 1, n do wanted[ARGV[i]] = (wanted[ARGV[i]] or 0) + 1 end
local all = redis.call('LRANGE', KEYS[1], 0, -1)
for i = #all, 1, -1 do
  local id = identity(all[i])
  if wanted[id] and wanted[id] > 0 then
    wanted[id] = wanted[id] - 1
    redis.call('LSET', KEYS[1], i - 1, '\\0acked')  -- a mark no event can be (JSON holds no NUL)
    removed = removed + 1
  end
end
if removed > 0 then redis.call('LREM', KEYS[1], 0, '\\0acked') end
return removed
"""
ID_PREFIX = b'{"_id":"'


def identity(raw: bytes) -> bytes:
    """What an ack names an event by: its id when it starts the event (as the collector writes it), else the
    event itself. The ACK script reads identities the same way."""
    if raw.startswith(ID_PREFIX) and (stop := raw.find(b'"', 8)) > 0:
        return raw[8:stop]
    return raw


def oldest_age(raw: bytes | None, now: float) -> float:
    """Seconds since the oldest waiting event (the list's `OLDEST` item) was received; 0 when empty."""
    if not raw:
        return 0.0
    try:
        return max(0.0, now - parse_datetime(orjson.loads(raw)["received_at"]).timestamp())
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return 0.0


def peek_oldest(redis: Any, queue_key: str) -> Any:
    """The oldest waiting event of a queue, read without taking it: with a client, an async client or a
    pipeline alike (whatever `lindex` returns there)."""
    return redis.lindex(queue_key, OLDEST)
