/* curriculum-insights: offline search over the site (MiniSearch, index in assets/search-index.js, written
   when the site is built). Results are built with textContent: page text is never parsed as HTML. */
(function () {
  "use strict";
  var input = document.getElementById("search-q");
  var status = document.getElementById("search-status");
  var list = document.getElementById("search-results");
  if (!input || !status || !list || !window.MiniSearch || !window.SITE_SEARCH) return;

  var docs = window.SITE_SEARCH.docs;
  var engine = new window.MiniSearch({
    fields: ["title", "section", "text"],
    storeFields: ["title", "section", "href", "text"],
    searchOptions: { boost: { title: 3, section: 2 }, prefix: true, fuzzy: 0.15, combineWith: "AND" }
  });
  engine.addAll(docs);

  function snippet(text, terms) {
    var lower = text.toLowerCase();
    var at = -1;
    for (var i = 0; i < terms.length && at < 0; i++) at = lower.indexOf(terms[i].toLowerCase());
    var start = Math.max(0, at - 60);
    var cut = text.slice(start, start + 200);
    return (start > 0 ? "… " : "") + cut + (start + 200 < text.length ? " …" : "");
  }

  function show(query) {
    while (list.firstChild) list.removeChild(list.firstChild);
    query = query.trim();
    if (!query) {
      status.textContent = "Type a word to search the " + docs.length + " sections of the report.";
      return;
    }
    var results = engine.search(query).slice(0, 20);
    status.textContent = results.length
      ? results.length + (results.length === 1 ? " section matches" : " sections match") + " \u201c" + query + "\u201d."
      : "Nothing matches \u201c" + query + "\u201d.";
    results.forEach(function (result) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = result.href;
      link.textContent = result.section ? result.title + " \u203a " + result.section : result.title;
      var text = document.createElement("p");
      text.textContent = snippet(result.text, result.terms);
      item.appendChild(link);
      item.appendChild(text);
      list.appendChild(item);
    });
  }

  var params = new URLSearchParams(window.location.search);
  input.value = params.get("q") || "";
  show(input.value);
  input.addEventListener("input", function () { show(input.value); });
  var nav = document.getElementById("nav-q");
  if (nav) nav.value = input.value;
})();
