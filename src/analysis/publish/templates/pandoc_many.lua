-- Run by `pandoc lua` (publish/common.PandocStream, pandoc_many): stdin holds one job a line (JSON),
-- stdout gets each converted document as one line (a JSON string) as soon as it is made, so the caller
-- can go on while pandoc converts. Each job is what one `pandoc -f markdown -t TO` call would do:
--   template (text, or null) -> standalone with that template; variables -> -V key=value;
--   toc -> --toc --toc-depth=2; section_divs -> --section-divs; columns -> --wrap=auto --columns=N;
--   metadata -> -M key=value (text values); slide_level -> --slide-level=N.
local function convert(job)
  local doc = pandoc.read(job.text, "markdown")
  for key, value in pairs(job.metadata or {}) do
    doc.meta[key] = value
  end
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
  if job.slide_level ~= nil and job.slide_level ~= pandoc.json.null then
    options.slide_level = job.slide_level
  end
  return pandoc.write(doc, job.to, options)
end

for line in io.lines() do
  io.write(pandoc.json.encode(convert(pandoc.json.decode(line, false))), "\n")
  io.stdout:flush()
end
