-- Argo CD health check for igz-operator.io/Group. Reads the conditions kstatus (Flux, kpt)
-- reads, in the same order, so both kinds of GitOps tool agree:
--   Stalled True -> Degraded (a person must act; the message says what to do)
--   Reconciling True -> Progressing (creating, updating, deleting, waiting, retrying)
--   Ready True -> Healthy (matches the spec, or ObserveOnly and observed)
--   anything else -> Progressing: no status or no Ready condition yet, Ready False,
--   status.observedGeneration behind metadata.generation, or being deleted.
-- Lua 5.1 with only the base and table libraries (Argo CD's sandbox): no string library.
-- Tested by hack/tools/check-gitops-tools.sh; see docs/gitops.md, "Status that GitOps tools read".

local hs = {}

local function message_or(cond, fallback)
  if cond ~= nil and cond.message ~= nil and cond.message ~= "" then
    return cond.message
  end
  if cond ~= nil and cond.reason ~= nil and cond.reason ~= "" then
    return fallback .. " (" .. cond.reason .. ")"
  end
  return fallback
end

local metadata = obj.metadata or {}

-- Argo CD itself answers this before calling a health check; kept so the check stands alone.
if metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Pending deletion"
  return hs
end

-- kstatus says Current here (no known conditions); this check waits for the operator instead.
local status = obj.status
if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end

-- Same rule as kstatus: only a status that says which generation it describes is compared.
if metadata.generation ~= nil and status.observedGeneration ~= nil
    and status.observedGeneration ~= metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(metadata.generation)
    .. " (status describes generation " .. tostring(status.observedGeneration) .. ")"
  return hs
end

-- The first Reconciling or Stalled condition that is True decides, in list order, as in kstatus.
-- The operator never sets both; if it ever did, the two tools still give the same answer.
local ready = nil
for _, cond in ipairs(status.conditions or {}) do
  if cond.type == "Reconciling" and cond.status == "True" then
    hs.status = "Progressing"
    hs.message = message_or(cond, "The operator is reconciling this Group")
    return hs
  end
  if cond.type == "Stalled" and cond.status == "True" then
    hs.status = "Degraded"
    hs.message = message_or(cond, "This Group needs a person to act; see its conditions")
    return hs
  end
  if cond.type == "Ready" and ready == nil then
    ready = cond
  end
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = message_or(ready, "Ready")
  return hs
end

hs.status = "Progressing"
if ready ~= nil then
  hs.message = message_or(ready, "Not ready yet")
else
  hs.message = "Waiting for the operator to report the Ready condition"
end
return hs
