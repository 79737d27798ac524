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

Deno.test("normalizeUrl keeps a non-default port", () => {
  assertEquals(normalizeUrl("http://www.a.example:8080/x/"), "https://a.example:8080/x");
  assertEquals(normalizeUrl("http://www2.a.example/x"), "https://a.example/x");
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

Deno.test("the fast path and the WHATWG parser agree", () => {
  const cases = [
    "https://Example.com:443/a/b/?x=1&utm_source=z#f",
    "http://example.com:80",
    "https://example.com/a/./b/../c",
    "https://bücher.example/straße",
    "https://example.com/a b",
    "http://user:pw@example.com/x",
    "https://example.com./x",
    "https://example.com/%7euser?q=%e4%b8%ad",
  ];
  const reference = (raw: string) => {
    const url = new URL(raw);
    const host = url.host.replace(/^www\d?\./, "").replace(/\.$/, "");
    let path = url.pathname.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => {
      const c = String.fromCharCode(parseInt(h, 16));
      return /[A-Za-z0-9\-._~]/.test(c) ? c : `%${h.toUpperCase()}`;
    });
    path = path === "/" ? "" : path.replace(/\/+$/, "");
    return `https://${host}${path}`;
  };
  for (const raw of cases) {
    assertEquals(normalizeUrl(raw).split("?")[0], reference(raw), raw);
  }
});
