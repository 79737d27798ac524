import { assertEquals } from "@a3s/common/testing";
import { normalizeUrl } from "./normalize_url.ts";

Deno.test("normalizeUrl folds scheme, www, default port, trailing slash and fragment", () => {
  const same = [
    "https://example.com/docs",
    "http://example.com/docs/",
    "HTTPS://WWW.Example.COM:443/docs#intro",
    "http://www.example.com:80/docs/?",
  ];
  for (const url of same) assertEquals(normalizeUrl(url), "https://example.com/docs", url);
});

Deno.test("normalizeUrl drops tracking parameters and sorts the rest", () => {
  assertEquals(
    normalizeUrl("https://a.example/p?utm_source=x&b=2&fbclid=1&a=1&gclid=9&UTM_Medium=y"),
    "https://a.example/p?a=1&b=2",
  );
});

Deno.test("normalizeUrl puts percent escapes in one case and decodes unreserved ones", () => {
  assertEquals(
    normalizeUrl("https://a.example/%7euser/%e4%b8%ad"),
    "https://a.example/~user/%E4%B8%AD",
  );
  assertEquals(
    normalizeUrl("https://a.example/%7Euser/%E4%B8%AD"),
    "https://a.example/~user/%E4%B8%AD",
  );
  assertEquals(normalizeUrl("https://a.example/%2Fslash"), "https://a.example/%2Fslash");
});

Deno.test("normalizeUrl leaves non-URLs and other schemes recognisable", () => {
  assertEquals(normalizeUrl("  not a url "), "not a url");
  assertEquals(normalizeUrl("file:///usr/share/doc/a.txt"), "file:///usr/share/doc/a.txt");
});
