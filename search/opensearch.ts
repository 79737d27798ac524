/**
 * The OpenSearch description document (so a browser can add the server as a search engine)
 * and the small HTML results page that its `text/html` template points at.
 */
import type { SearchResponse } from "./search.ts";

function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

/**
 * The description document for a server reachable at `origin`.
 *
 * @example
 * ```ts
 * import { openSearchDescription } from "@a3s/search";
 * const xml = openSearchDescription("http://127.0.0.1:11434");
 * ```
 */
export function openSearchDescription(origin: string): string {
  const base = escapeXml(origin.replace(/\/+$/, ""));
  return `<?xml version="1.0" encoding="UTF-8"?>
<OpenSearchDescription xmlns="http://a9.com/-/spec/opensearch/1.1/">
  <ShortName>a3s search</ShortName>
  <Description>Meta search over the local index and the configured web engines</Description>
  <InputEncoding>UTF-8</InputEncoding>
  <OutputEncoding>UTF-8</OutputEncoding>
  <Url type="text/html" method="get" template="${base}/search/v1/search?q={searchTerms}&amp;page={startPage?}&amp;format=html"/>
  <Url type="application/json" method="get" template="${base}/search/v1/search?q={searchTerms}&amp;page={startPage?}"/>
  <Url type="application/opensearchdescription+xml" rel="self" template="${base}/search/v1/opensearch.xml"/>
</OpenSearchDescription>
`;
}

/** Escapes a snippet but keeps the local index's `<mark>` highlights. */
function snippetHtml(snippet: string): string {
  return escapeXml(snippet).replaceAll("&lt;mark&gt;", "<mark>").replaceAll(
    "&lt;/mark&gt;",
    "</mark>",
  );
}

/** A plain results page: no scripts, every value escaped. */
export function resultsPage(answer: SearchResponse): string {
  const items = answer.results.map((r) => {
    const href = /^(https?|file):/i.test(r.url) ? escapeXml(r.url) : "#";
    return `<li><a href="${href}">${escapeXml(r.title || r.url)}</a><br><small>${
      escapeXml(r.url)
    } · ${escapeXml(r.engines.join(", "))}</small><p>${snippetHtml(r.snippet)}</p></li>`;
  }).join("\n");
  const failures = answer.engines.filter((e) => e.error).map((e) =>
    `<li>${escapeXml(e.engine)}: ${escapeXml(e.error!.code)}</li>`
  ).join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(answer.query)} - a3s search</title>
<link rel="search" type="application/opensearchdescription+xml" title="a3s search" href="/search/v1/opensearch.xml">
</head><body>
<form action="/search/v1/search"><input name="q" value="${
    escapeXml(answer.query)
  }"><input type="hidden" name="format" value="html"><button>Search</button></form>
<ol>
${items || "<li>No results.</li>"}
</ol>
${failures ? `<p>Engines that failed:</p><ul>${failures}</ul>` : ""}
</body></html>
`;
}
