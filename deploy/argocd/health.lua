-- Argo CD health check for igz-operator.io/Group (key igz-operator.io_Group in argocd-cm).
--
-- Argo CD runs this body with the live object in the global `obj` and reads the table it
-- returns: hs.status (Healthy, Progressing, Degraded, Suspended, Missing) and hs.message.
--
-- It reads the same conditions kstatus (Flux, kpt) reads, in the same order, so both kinds of
-- GitOps tool agree on every Group the operator writes:
--   Stalled True      -> Degraded     a person must act (AlreadyExists, NameConflict, NotGranted,
--                                     CredentialsInvalid, PermissionDenied); message = what to do
--   Reconciling True  -> Progressing  creating, updating, deleting, waiting for missing users or
--                                     projects, retrying after an API error
--   Ready True        -> Healthy      in line with the spec (Available), or ObserveOnly and
--                                     observed (Observed; differences are in status.plannedChanges)
--   Ready False/Unknown, no status yet, no Ready condition yet, or status.observedGeneration not
--   equal to metadata.generation      -> Progressing (the operator has not caught up yet)
--   metadata.deletionTimestamp set    -> Progressing "Pending deletion" (Argo CD answers this
--                                     itself before calling a health check; kept for parity)
--
-- Where kstatus differs: with no status at all, or a status with no Ready, Reconciling or
-- Stalled condition, kstatus reports Current (it assumes a resource without known conditions is
-- done). This check says Progressing instead: the operator always writes conditions, so a Group
-- without them has simply not been seen yet.
--
-- Written for Argo CD's interpreter (gopher-lua, Lua 5.1) and its sandbox for health checks in
-- argocd-cm, which loads only the base, table and a reduced os library: no string library, so
-- messages are built with `..` only. hack/argocd-health.sh runs it the same way.

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

if metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Pending deletion"
  return hs
end

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
