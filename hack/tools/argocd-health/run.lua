-- Runs an Argo CD Lua health check (default: deploy/argocd/health.lua) on Kubernetes objects the
-- way Argo CD does, so tests can check what Argo CD would show for our Groups without Argo CD.
-- Normally started by hack/argocd-health.sh, which finds the interpreter and the JSON module.
--
-- Usage: lua run.lua [--check HEALTH.lua] [FILE...]   (no FILE, or "-": standard input)
--
-- Input: JSON only: one object, a list ("List" or "<Kind>List" with "items", e.g. a GroupList),
-- or several of these one after the other (newline-delimited or concatenated).
-- Output, one line per object, in input order:  <namespace>/<name>\t<status>\t<message>
-- (cluster-scoped objects print as "<name>"; tabs and line breaks in the message become spaces).
-- Exit status: 0 when every object was evaluated; 1 on bad input or when the check fails (a Lua
-- error, or a return value that is not a table); 2 on bad usage. Nothing is printed on stdout
-- once anything fails, so a caller never reads a partial table as a complete one.
--
-- How this mirrors Argo CD (util/lua in argo-cd, gitops-engine's health package):
-- * The check is one chunk: its body reads the global `obj` and ends with `return hs`. A fresh
--   environment per object, as Argo CD starts a fresh interpreter per evaluation.
-- * Health checks configured in argocd-cm run with only the base, table and a reduced os library
--   (unless resource.customizations.useOpenLibs is set): no string, math or io. The environment
--   here has the same, and the string metatable's methods ("x"):sub() are switched off while the
--   check runs, so a check that works here does not fail in Argo CD for want of a library.
-- * JSON null becomes nil (absent), as Argo CD's conversion of the unstructured object does; no
--   metatables on the tables.
-- * A returned status outside Healthy, Progressing, Degraded, Suspended, Missing, Unknown becomes
--   Unknown "Lua returned an invalid health status", as in Argo CD.
-- * Not mirrored: Argo CD answers Progressing "Pending deletion" for objects with
--   metadata.deletionTimestamp before it calls any health check; here the check itself is run, so
--   that its own handling of deletion is tested too (ours gives the same answer).
-- Argo CD's interpreter is gopher-lua (Lua 5.1). This runner works on Lua 5.1 to 5.4; numbers
-- keep the host's integer/float distinction, which prints whole numbers the way gopher-lua does.

local USAGE = "usage: run.lua [--check HEALTH.lua] [FILE...]  (JSON objects or lists; no FILE or \"-\" = stdin)"

local function fail(code, msg)
  io.stderr:write("argocd-health: " .. msg .. "\n")
  os.exit(code)
end

-- Arguments -----------------------------------------------------------------------------------

local script_dir = (arg and arg[0] and arg[0]:match("^(.*)/[^/]*$")) or "."
local check_path = script_dir .. "/../../../deploy/argocd/health.lua"
local inputs = {}
do
  local i = 1
  while arg and arg[i] do
    local a = arg[i]
    if a == "--check" then
      check_path = arg[i + 1] or fail(2, "--check needs a file\n" .. USAGE)
      i = i + 1
    elseif a == "-h" or a == "--help" then
      print(USAGE)
      os.exit(0)
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      fail(2, "unknown option " .. a .. "\n" .. USAGE)
    else
      inputs[#inputs + 1] = a
    end
    i = i + 1
  end
  if #inputs == 0 then inputs[1] = "-" end
end

local function read_all(path)
  local f, err
  if path == "-" then
    f = io.stdin
  else
    f, err = io.open(path, "rb")
    if not f then fail(1, err) end
  end
  local text = f:read("*a")
  if f ~= io.stdin then f:close() end
  return text
end

local check_src = read_all(check_path)

-- JSON ----------------------------------------------------------------------------------------

-- dkjson (pure Lua, Debian lua-dkjson) is preferred: it can decode one value at a position, so
-- concatenated documents work, and it turns null into nil itself. lua-cjson works too, with
-- one document per line for several documents.
local decode_docs
do
  local ok, dkjson = pcall(require, "dkjson")
  if ok then
    decode_docs = function(text)
      local docs, pos = {}, 1
      while true do
        local start = text:find("[^%s]", pos)
        if not start then return docs end
        -- nullval nil, and no metatables on objects and arrays: plain tables, as in Argo CD.
        local value, nextpos, err = dkjson.decode(text, start, nil, nil, nil)
        if err then return nil, "document " .. (#docs + 1) .. ": not valid JSON: " .. err end
        docs[#docs + 1] = { value = value, first = text:sub(start, start) }
        pos = nextpos
      end
    end
  else
    local ok2, cjson = pcall(require, "cjson")
    if not ok2 then
      fail(1, "no Lua JSON module: install lua-dkjson (apt-get install lua-dkjson) or lua-cjson")
    end
    -- cjson decodes every number as a float; whole numbers go back to integers so that they
    -- print as gopher-lua prints them ("5", not "5.0") on Lua 5.3 and later.
    local tointeger = math.tointeger or function(x) return x end
    local function strip_null(v)
      if v == cjson.null then return nil end
      if type(v) == "number" then return tointeger(v) or v end
      if type(v) == "table" then
        for k, x in pairs(v) do v[k] = strip_null(x) end
      end
      return v
    end
    local function one(text)
      local ok3, value = pcall(cjson.decode, text)
      if not ok3 then return nil, value end
      return { value = strip_null(value), first = text:match("[^%s]") }
    end
    decode_docs = function(text)
      if not text:find("[^%s]") then return {} end
      local doc = one(text)
      if doc then return { doc } end
      local docs = {}
      for line in text:gmatch("[^\n]+") do
        if line:find("[^%s]") then
          local d, err = one(line)
          if not d then return nil, "document " .. (#docs + 1) .. ": not valid JSON: " .. tostring(err) end
          docs[#docs + 1] = d
        end
      end
      return docs
    end
  end
end

local function describe(first)
  if first == "[" then return "an array (wrap items in {\"kind\": \"List\", \"items\": [...]})" end
  if first == "\"" then return "a string" end
  if first == "n" then return "null" end
  if first == "t" or first == "f" then return "a boolean" end
  return "a number"
end

-- Each input's objects: lists are expanded; items of a typed list get the list's apiVersion and
-- kind when they lack them (Argo CD always has them on live objects).
local function objects_of(name, text)
  local docs, err = decode_docs(text)
  if not docs then fail(1, name .. ": " .. err) end
  if #docs == 0 then
    fail(1, name .. ": no JSON found (expected an object, a List or newline-delimited objects)")
  end
  local out = {}
  for d, doc in ipairs(docs) do
    local where = "document " .. d
    if doc.first ~= "{" or type(doc.value) ~= "table" then
      fail(1, name .. ": " .. where .. ": expected a JSON object (a Kubernetes object or list), got "
        .. describe(doc.first))
    end
    local o = doc.value
    local kind = type(o.kind) == "string" and o.kind or ""
    if kind:sub(-4) == "List" and o.items ~= nil then
      if type(o.items) ~= "table" then fail(1, name .. ": " .. where .. ": items is not an array") end
      local item_kind = kind:sub(1, -5)
      for i, item in ipairs(o.items) do
        if type(item) ~= "table" then
          fail(1, name .. ": " .. where .. ", items[" .. (i - 1) .. "]: not an object")
        end
        if item_kind ~= "" then
          if item.kind == nil then item.kind = item_kind end
          if item.apiVersion == nil then item.apiVersion = o.apiVersion end
        end
        out[#out + 1] = { where = where .. ", items[" .. (i - 1) .. "]", obj = item }
      end
    else
      out[#out + 1] = { where = where, obj = o }
    end
  end
  return out
end

-- Argo CD's sandbox ---------------------------------------------------------------------------

local BASE = { "assert", "collectgarbage", "dofile", "error", "getfenv", "getmetatable", "ipairs",
  "load", "loadfile", "loadstring", "module", "next", "pairs", "pcall", "print", "rawequal",
  "rawget", "rawset", "require", "select", "setfenv", "setmetatable", "tonumber", "tostring",
  "type", "xpcall", "_VERSION" }

local function sandbox(o)
  local env = {}
  for _, n in ipairs(BASE) do env[n] = _G[n] end
  env.unpack = _G.unpack or table.unpack -- a base function in Lua 5.1
  local t = {}
  for k, v in pairs(table) do t[k] = v end
  env.table = t
  -- Argo CD's "safe" os: time and date only.
  env.os = { clock = os.clock, date = os.date, difftime = os.difftime, time = os.time }
  env._G = env
  env.obj = o
  return env
end

local function compile(env)
  if setfenv and loadstring then -- Lua 5.1
    local fn, err = loadstring(check_src, "@" .. check_path)
    if fn then setfenv(fn, env) end
    return fn, err
  end
  return load(check_src, "@" .. check_path, "t", env)
end

local VALID = { Healthy = true, Progressing = true, Degraded = true, Suspended = true,
  Missing = true, Unknown = true }

local function run_check(o)
  local fn, err = compile(sandbox(o))
  if not fn then return nil, err end
  local smeta = getmetatable("")
  local saved = smeta.__index
  smeta.__index = nil
  local ok, hs = pcall(fn)
  smeta.__index = saved
  if not ok then return nil, tostring(hs) end
  if type(hs) ~= "table" then return nil, "expect table output from Lua script, not " .. type(hs) end
  if not VALID[hs.status] then
    return { status = "Unknown", message = "Lua returned an invalid health status" }
  end
  return hs
end

-- Main ----------------------------------------------------------------------------------------

local function one_line(s)
  return (tostring(s):gsub("\r\n", " "):gsub("[\t\r\n]", " "))
end

local lines = {}
for _, path in ipairs(inputs) do
  local name = path == "-" and "stdin" or path
  for _, item in ipairs(objects_of(name, read_all(path))) do
    local md = type(item.obj.metadata) == "table" and item.obj.metadata or {}
    if type(md.name) ~= "string" or md.name == "" then
      fail(1, name .. ": " .. item.where .. ": metadata.name is missing (is this a Kubernetes object?)")
    end
    local id = md.name
    if type(md.namespace) == "string" and md.namespace ~= "" then id = md.namespace .. "/" .. md.name end
    local hs, err = run_check(item.obj)
    if not hs then fail(1, name .. ": " .. item.where .. " (" .. id .. "): health check failed: " .. err) end
    lines[#lines + 1] = id .. "\t" .. hs.status .. "\t" .. one_line(hs.message or "")
  end
end
for _, l in ipairs(lines) do io.stdout:write(l, "\n") end
