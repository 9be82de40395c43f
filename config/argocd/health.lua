-- Argo CD health of every bpfleet kind (the programs and MapPolicy), read
-- from their kstatus conditions: Stalled=True is Degraded (a node refused
-- the program for good: verifier, signature, unsupported everywhere...),
-- Ready=True at the current generation is Healthy, anything else is still
-- Progressing. Installed by argocd-cm.yaml beside this file, one entry per
-- kind, each holding this script.
local hs = { status = "Progressing", message = "waiting for the bpfleet operator" }
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
if obj.metadata.generation ~= nil and obj.status.observedGeneration ~= obj.metadata.generation then
  hs.message = "waiting for the bpfleet operator to observe generation " .. obj.metadata.generation
  return hs
end
local ready, stalled = nil, nil
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Ready" then ready = c end
  if c.type == "Stalled" then stalled = c end
end
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.reason .. ": " .. (stalled.message or "")
  return hs
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or ""
  return hs
end
if ready ~= nil then
  hs.message = ready.reason .. ": " .. (ready.message or "")
end
return hs
