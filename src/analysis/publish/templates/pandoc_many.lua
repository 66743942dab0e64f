-- Run by `pandoc lua` (publish/common.pandoc_many): stdin is a JSON list of jobs, stdout the JSON list
-- of converted documents, in order. Each job is what one `pandoc -f markdown -t TO` call would do:
--   template (text, or null) -> standalone with that template; variables -> -V key=value;
--   toc -> --toc --toc-depth=2; section_divs -> --section-divs; columns -> --wrap=auto --columns=N.
local jobs = pandoc.json.decode(io.read("a"), false)
local out = {}
for i, job in ipairs(jobs) do
  local doc = pandoc.read(job.text, "markdown")
  local options = { variables = {} }
  if job.template ~= nil and job.template ~= pandoc.json.null then
    options.template = pandoc.template.compile(job.template)
  end
  for key, value in pairs(job.variables or {}) do
    options.variables[key] = value
  end
  if job.toc then
    options.table_of_contents = true
    options.toc_depth = 2
  end
  if job.section_divs then
    options.section_divs = true
  end
  if job.columns ~= nil and job.columns ~= pandoc.json.null then
    options.wrap_text = "wrap-auto"
    options.columns = job.columns
  end
  out[i] = pandoc.write(doc, job.to, options)
end
io.write(pandoc.json.encode(out))
